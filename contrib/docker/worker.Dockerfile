# safeurl-worker:latest - built by scripts/build-image.sh --target worker
# from a staged root (the release safeurl-worker, exactly the shared
# libraries ldd lists, a CA bundle, a non-root user). No base image,
# nothing pulled, no network. How to run it: docs/deployment.md.
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /data/
# libcurl maps GnuTLS for RTMP only; skip its load-time initialisation.
ENV GNUTLS_NO_IMPLICIT_INIT=1
# In a container the health server must listen beyond its own loopback.
ENV HEALTH_ADDR=0.0.0.0
# The engine's socket is root:docker 0660 on the host: run with
# --group-add <that gid> (or --user 0) so that user 10001 may use it.
USER 10001:10001
WORKDIR /data
# SIGTERM (docker stop): finish or release running scans within
# SHUTDOWN_GRACE_MS, exit 0. Give docker stop -t more than that grace.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/safeurl-worker"]
