--[[
  step: settle a batch of this worker's active jobs, then take up to N new
  ones, in one round trip. Same keys, fields and events as BullMQ 6.7;
  each job costs a handful of commands, while the queue metadata, delayed
  promotion and event trimming are paid once per call (the last two only
  when the caller asks, see ARGV[9]).

  KEYS: 12  wait active prioritized events stalled delayed meta pc marker
            completed failed limiter
  ARGV[1] key prefix "<prefix>:<queue>:"   ARGV[2] now (ms)
  ARGV[3] worker name (job field "pb")      ARGV[4] lock duration (ms)
  ARGV[5] lock token base                   ARGV[6] first token sequence number
  ARGV[7] jobs to take                      ARGV[8] outcomes that follow
  ARGV[9] "t" trim the events stream, "p" promote due delayed jobs, or both
  ARGV[10] the worker's limiter max ("" none)  ARGV[11] its duration (ms)
  ARGV[12] the worker's metrics maxDataPoints ("" no metrics): a job that
    completes or fails for good counts in "<prefix>:<queue>:metrics:<target>"
    and its ":data" list, per minute, as BullMQ's moveToFinished counts it
  then 14 per outcome: jobId token op value stacktrace keepCount keepAge
    attempts delay attemptsMade lifo dedupId parentKey parent; op:
    c complete, f fail, d retry after delay, w retry now, r release (back
    to wait, no attempt counted), y delay without counting an attempt
    (value: the first infrastructure fault's time, kept as infraSince);
    lifo "1": a retry goes to the front of wait; dedupId "" none; parentKey and parent (the job's fields of those
    names, "" none): a flow's child tells its parent when it finishes.
    keepCount -1 keeps every job, 0 removes this one, N keeps the newest N;
    keepAge "" or seconds; attemptsMade counts this attempt (the lock holder
    is the only writer of "atm", so the caller knows it).
  A job made by a job scheduler ("rjk") schedules the scheduler's next
  run when it is taken (schedulers with "every"; see scheduleNext).
  Taking respects the queue's global concurrency (meta "concurrency":
  never more active jobs than that) and the rate limit (meta "max" and
  "duration", else the worker's limiter): at most max jobs per duration
  counted on the limiter key, as BullMQ's moveToActive counts them.
  Returns {codes, nextDelayedMs, paused, limitTtlMs, id1, fields1, ...}:
  codes[i] is 0 or BullMQ's error code for outcome i (-1 no job hash,
  -2 lock missing, -6 lock owned by another token, -3 not active, -4 a
  completion with pending children, -9 with a failed child: the job stays
  locked and active).
]]
local rcall = redis.call
local kWait, kActive, kPrio, kEvents, _, kDelayed, kMeta, kPc, kMarker =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local prefix, now = ARGV[1], tonumber(ARGV[2])
local nTake, nOut = tonumber(ARGV[7]), tonumber(ARGV[8])

local meta = rcall("HMGET", kMeta, "paused", "concurrency", "opts.maxLenEvents",
                   "max", "duration")

local function isPaused()
  if meta[1] then return true end
  return meta[2] and rcall("LLEN", kActive) >= tonumber(meta[2]) or false
end

local function priorityScore(priority)
  return priority * 0x100000000 + rcall("INCR", kPc) % 0x100000000
end

-- Delayed score: timestamp * 4096 plus an order number within the same ms.
local function delayedScore(ts)
  local lo, hi = ts * 0x1000, (ts + 1) * 0x1000 - 1
  local top = rcall("ZREVRANGEBYSCORE", kDelayed, hi, lo, "WITHSCORES", "LIMIT", 0, 1)
  if top[2] then return math.min(tonumber(top[2]) + 1, hi) end
  return lo
end

local function markDelayed()
  local first = rcall("ZRANGE", kDelayed, 0, 0, "WITHSCORES")
  if first[2] then rcall("ZADD", kMarker, tonumber(first[2]) / 0x1000, "1") end
end

-- Remove our lock. A lock held with our token implies the job hash
-- exists. Another holder's lock is put back (GETDEL saves a call on the
-- common path). The id may stay in the stalled-suspects set: the next
-- check skips ids that are no longer active, and drops the set anyway.
local function unlock(jobKey, token)
  local lockKey = jobKey .. ":lock"
  local owner = rcall("GETDEL", lockKey)
  if owner ~= token then
    if owner then rcall("SET", lockKey, owner, "PX", ARGV[4]) end
    if rcall("EXISTS", jobKey) == 0 then return -1 end
    return owner and -6 or -2
  end
  return 0
end

local function removeJobs(ids)
  for _, id in ipairs(ids) do
    local k = prefix .. id
    rcall("DEL", k, k .. ":logs", k .. ":dependencies", k .. ":processed",
          k .. ":failed", k .. ":unsuccessful")
  end
end

local function keepFinished(target, count, age)
  if age ~= "" then
    local upto = now - tonumber(age) * 1000
    local old = rcall("ZREVRANGEBYSCORE", target, upto, "-inf", "LIMIT", 0, 1000)
    removeJobs(old)
    for i = 1, #old, 5000 do
      rcall("ZREM", target, unpack(old, i, math.min(i + 4999, #old)))
    end
  end
  if count > 0 then
    removeJobs(rcall("ZREVRANGE", target, count, -1))
    rcall("ZREMRANGEBYRANK", target, 0, -(count + 1))
  end
end

local function enqueue(jobKey, id, front)
  local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
  if priority > 0 then
    rcall("ZADD", kPrio, front and priority * 0x100000000 or priorityScore(priority), id)
  elseif front then
    rcall("RPUSH", kWait, id)
  else
    rcall("LPUSH", kWait, id)
  end
  if not isPaused() then rcall("ZADD", kMarker, 0, "0") end
  rcall("XADD", kEvents, "*", "event", "waiting", "jobId", id, "prev", "active")
end

-- Completed jobs kept without a limit (the default) join one ZADD per
-- call; jobs with removeOnComplete/Fail limits are added and trimmed now.
local keepAll = {}

local function flushKeepAll()
  for i = 1, #keepAll, 2000 do
    rcall("ZADD", KEYS[10], unpack(keepAll, i, math.min(i + 1999, #keepAll)))
  end
  keepAll = {}
end

-- BullMQ's rule when a deduplicated job finishes: a key that has no TTL
-- and still names this job goes; one with a TTL lives it out.
local function dropDedupKey(id, dedupId)
  local k = prefix .. "de:" .. dedupId
  local pttl = rcall("PTTL", k)
  if pttl == 0 or (pttl == -1 and rcall("GET", k) == id) then
    rcall("DEL", k)
  end
end

-- A field from a producer is not trusted to parse: a bad one must not
-- abort the script half way through a batch.
local function decode(raw)
  if raw == nil or raw == "" then return nil end
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == "table" then return v end
  return nil
end

-- "<queueKey>:<id>" -> id, queueKey (nil when it has no ":").
local function splitJobKey(key)
  local id = string.match(key, ".*:(.*)")
  if not id then return nil end
  return id, string.sub(key, 1, #key - #id - 1)
end

-- A job just added (its hash written): delayed, prioritized or waiting,
-- with the event BullMQ emits for it.
local function placeNew(id, delay, priority, lifo, maxEvents)
  if delay ~= 0 then
    rcall("ZADD", kDelayed, delayedScore(now + delay), id)
    rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "delayed", "jobId", id,
          "delay", now + delay)
    markDelayed()
  else
    if priority > 0 then
      rcall("ZADD", kPrio, priorityScore(priority), id)
    elseif lifo then
      rcall("RPUSH", kWait, id)
    else
      rcall("LPUSH", kWait, id)
    end
    if not isPaused() then rcall("ZADD", kMarker, 0, "0") end
    rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", id)
  end
end

-- keepLastIfActive: an add made while the deduplicated job ran was kept in
-- "dn:<id>"; when the job ends it becomes a new job (BullMQ's requeue).
local function requeueDedupNext(dedupId)
  local dnKey = prefix .. "dn:" .. dedupId
  local d = rcall("HMGET", dnKey, "name", "data", "opts", "pk", "pd", "pdk", "rjk", "jid")
  local opts = decode(d[3])
  if not opts or not d[1] or not d[2] then return end
  local counter = rcall("INCR", prefix .. "id") .. ""
  local newId = d[8] or counter
  local newKey = prefix .. newId
  local de = type(opts["de"]) == "table" and opts["de"] or nil
  if de and de["keepLastIfActive"] then
    rcall("SET", prefix .. "de:" .. dedupId, newId)
  elseif de and tonumber(de["ttl"]) and tonumber(de["ttl"]) > 0 then
    rcall("SET", prefix .. "de:" .. dedupId, newId, "PX", de["ttl"])
  else
    rcall("SET", prefix .. "de:" .. dedupId, newId)
  end
  local maxEvents = meta[3] or 10000
  local delay, priority = tonumber(opts["delay"]) or 0, tonumber(opts["priority"]) or 0
  local extra = {}
  if d[4] then
    extra[#extra + 1], extra[#extra + 2] = "parentKey", d[4]
    extra[#extra + 1], extra[#extra + 2] = "parent", d[5]
  end
  if d[7] then extra[#extra + 1], extra[#extra + 2] = "rjk", d[7] end
  if de and (type(de["id"]) == "string" or type(de["id"]) == "number") then
    extra[#extra + 1], extra[#extra + 2] = "deid", de["id"]
  end
  rcall("HMSET", newKey, "name", d[1], "data", d[2], "opts", cjson.encode(opts),
        "timestamp", now, "delay", delay, "priority", priority, unpack(extra))
  rcall("XADD", kEvents, "*", "event", "added", "jobId", newId, "name", d[1])
  placeNew(newId, delay, priority, opts["lifo"], maxEvents)
  if d[6] then rcall("SADD", d[6], newKey) end
  rcall("DEL", dnKey)
end

-- ---- job schedulers: the next run is added when a run is taken ----

-- BullMQ's next time for an "every" scheduler.
local function everyNext(prev, every, offset, startDate)
  offset = tonumber(offset)
  local nextMillis
  if not prev then
    if startDate then
      nextMillis = math.max(tonumber(startDate), now)
    elseif offset and offset > 0 then
      nextMillis = math.floor(now / every) * every + offset
      if nextMillis <= now then nextMillis = nextMillis + every end
    else
      nextMillis = now
    end
  else
    nextMillis = prev + every
    if nextMillis < now then
      local aligned = math.floor(now / every) * every + (offset or 0)
      nextMillis = aligned <= now and aligned + every or aligned
    end
  end
  return math.floor(nextMillis)
end

-- A taken job made by scheduler rjk (not a legacy repeat key, not a cron
-- pattern: the C side refuses those) schedules the scheduler's next run,
-- as the Node worker does on taking it (its upsertJobScheduler and the
-- updateJobScheduler script).
local function scheduleNext(id, rjk, optsRaw)
  if string.find(rjk, ":", 1, true) then return end
  local opts = decode(optsRaw)
  if not opts then return end
  local rep = type(opts["repeat"]) == "table" and opts["repeat"] or {}
  if rep["pattern"] then return end
  local iteration = (tonumber(rep["count"]) or 0) + 1
  if tonumber(rep["limit"]) and iteration > tonumber(rep["limit"]) then return end
  if tonumber(rep["endDate"]) and now > tonumber(rep["endDate"]) then return end
  local kRepeat = prefix .. "repeat"
  local prev = tonumber(rcall("ZSCORE", kRepeat, rjk))
  if not prev then return end
  local sKey = kRepeat .. ":" .. rjk
  local a = rcall("HMGET", sKey, "name", "data", "every", "startDate", "offset")
  local every = tonumber(a[3]) or tonumber(rep["every"])
  if not every or every <= 0 then return end
  local nextMillis = everyNext(prev, every, a[5] or rep["offset"] or 0, a[4])
  if id ~= "repeat:" .. rjk .. ":" .. prev then return end
  local nextId = "repeat:" .. rjk .. ":" .. nextMillis
  local nextKey = prefix .. nextId
  local maxEvents = meta[3] or 10000
  if rcall("EXISTS", nextKey) == 1 then
    rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "duplicated", "jobId", nextId)
    return
  end
  rcall("ZADD", kRepeat, nextMillis, rjk)
  rcall("HINCRBY", sKey, "ic", 1)
  rcall("INCR", prefix .. "id")
  local delay = math.max(0, nextMillis - now)
  rep["count"] = iteration
  if not tonumber(rep["offset"]) or tonumber(rep["offset"]) == 0 then rep["offset"] = nil end
  opts["repeat"] = rep
  -- as the Node worker's Job object carries them on
  if opts["attempts"] == nil then opts["attempts"] = 0 end
  if type(opts["backoff"]) == "number" then
    opts["backoff"] = {type = "fixed", delay = opts["backoff"]}
  end
  opts["prevMillis"] = nil
  opts["timestamp"] = now
  opts["repeatJobKey"] = rjk
  opts["jobId"] = nextId
  opts["delay"] = delay
  local priority = tonumber(opts["priority"]) or 0
  local name = a[1] or "scan"
  local extra = {}
  local de = type(opts["de"]) == "table" and opts["de"] or nil
  if de and (type(de["id"]) == "string" or type(de["id"]) == "number") then
    extra[1], extra[2] = "deid", de["id"]
  end
  rcall("HMSET", nextKey, "name", name, "data", a[2] or "{}", "opts", cjson.encode(opts),
        "timestamp", now, "delay", delay, "priority", priority, "rjk", rjk, unpack(extra))
  rcall("XADD", kEvents, "*", "event", "added", "jobId", nextId, "name", name)
  placeNew(nextId, delay, priority, opts["lifo"], maxEvents)
end

-- ---- flows: a finished child updates its parent, in the parent's queue
-- (which may be another queue), as BullMQ's moveToFinished does ----

-- The parent leaves waiting-children for delayed, prioritized or wait.
local function parentToWait(pq, pKey, pId)
  local a = rcall("HMGET", pKey, "priority", "delay")
  local priority, delay = tonumber(a[1]) or 0, tonumber(a[2]) or 0
  if delay > 0 then
    local ts = now + delay
    rcall("ZADD", pq .. ":delayed", ts * 0x1000, pId)
    rcall("XADD", pq .. ":events", "*", "event", "delayed", "jobId", pId, "delay", ts)
    local first = rcall("ZRANGE", pq .. ":delayed", 0, 0, "WITHSCORES")
    if first[2] then rcall("ZADD", pq .. ":marker", tonumber(first[2]) / 0x1000, "1") end
    return
  end
  local m = rcall("HMGET", pq .. ":meta", "paused", "concurrency")
  local maxed = m[1] or (m[2] and rcall("LLEN", pq .. ":active") >= tonumber(m[2]))
  if priority == 0 then
    rcall("RPUSH", pq .. ":wait", pId)
  else
    rcall("ZADD", pq .. ":prioritized",
          priority * 0x100000000 + rcall("INCR", pq .. ":pc") % 0x100000000, pId)
  end
  if not maxed then rcall("ZADD", pq .. ":marker", 0, "0") end
  rcall("XADD", pq .. ":events", "*", "event", "waiting", "jobId", pId, "prev", "waiting-children")
end

local function parentToWaitIfWaiting(pq, pKey, pId)
  if rcall("EXISTS", pKey) == 1 and rcall("ZREM", pq .. ":waiting-children", pId) == 1 then
    parentToWait(pq, pKey, pId)
  end
end

local function parentIfDone(pq, pKey, pId)
  if rcall("SCARD", pKey .. ":dependencies") == 0 then parentToWaitIfWaiting(pq, pKey, pId) end
end

-- failParentOnFailure: the parent fails when a worker next takes it.
local function parentFails(pq, pKey, pId, childKey)
  if rcall("EXISTS", pKey) == 0 then return end
  local reason = "child " .. childKey .. " failed"
  local from
  if rcall("ZSCORE", pq .. ":waiting-children", pId) then
    from = pq .. ":waiting-children"
  elseif rcall("ZSCORE", pq .. ":delayed", pId) then
    from = pq .. ":delayed"
    rcall("HSET", pKey, "delay", 0)
  end
  if from then
    rcall("ZREM", from, pId)
    rcall("HSET", pKey, "defa", reason)
    parentToWait(pq, pKey, pId)
  elseif not rcall("ZSCORE", pq .. ":failed", pId) then
    rcall("HSET", pKey, "defa", reason)
  end
end

local function tellParent(jobKey, op, value, parentKey, parentRaw)
  local pd = decode(parentRaw)
  local pId, pq
  if pd and type(pd["id"]) == "string" and type(pd["queueKey"]) == "string" then
    pId, pq = pd["id"], pd["queueKey"]
  else
    pd = nil
    pId, pq = splitJobKey(parentKey)
    if not pId then return end
  end
  local pKey = pq .. ":" .. pId
  local deps = pKey .. ":dependencies"
  if op == "c" then
    if rcall("SREM", deps, jobKey) == 1 then
      rcall("HSET", pKey .. ":processed", jobKey, value)
      parentIfDone(pq, pKey, pId)
    end
  elseif pd and (pd["fpof"] or pd["cpof"] or pd["idof"] or pd["rdof"]) then
    if rcall("SREM", deps, jobKey) == 1 then
      if pd["fpof"] then
        rcall("ZADD", pKey .. ":unsuccessful", now, jobKey)
        parentFails(pq, pKey, pId, jobKey)
      elseif pd["cpof"] then
        rcall("HSET", pKey .. ":failed", jobKey, value)
        parentToWaitIfWaiting(pq, pKey, pId)
      else
        parentIfDone(pq, pKey, pId)
        if pd["idof"] then rcall("HSET", pKey .. ":failed", jobKey, value) end
      end
    end
  end
end

-- A child removed when it finishes (removeOn* 0) leaves its parent's
-- dependencies; the last one out moves the parent on.
local function leaveParent(jobKey, parentKey)
  local deps = parentKey .. ":dependencies"
  if rcall("SREM", deps, jobKey) == 1 and rcall("SCARD", deps) == 0 then
    local pId, pq = splitJobKey(parentKey)
    if pId and rcall("ZREM", pq .. ":waiting-children", pId) == 1 then
      local m = rcall("HMGET", pq .. ":meta", "paused", "concurrency")
      rcall("RPUSH", pq .. ":wait", pId)
      if not (m[1] or (m[2] and rcall("LLEN", pq .. ":active") >= tonumber(m[2]))) then
        rcall("ZADD", pq .. ":marker", 0, "0")
      end
      rcall("XADD", pq .. ":events", "*", "event", "waiting", "jobId", pId, "prev", "waiting-children")
    end
  end
end

-- BullMQ's collectMetrics: one count per finished job; once a minute
-- boundary has passed, push the minute's delta (and zeros for the idle
-- minutes between, at most maxPoints) and trim the list. The jobs one
-- call settles share its "now", so they are counted at once: the same
-- keys as that many calls of BullMQ's, for two commands in all.
local function collectMetrics(metaKey, jobs, maxPoints)
  local dataKey = metaKey .. ":data"
  local count = rcall("HINCRBY", metaKey, "count", jobs) - jobs
  local prevTS = rcall("HGET", metaKey, "prevTS")
  if not prevTS then
    rcall("HSET", metaKey, "prevTS", now, "prevCount", 0)
    return
  end
  local n = math.min(math.floor(now / 60000) - math.floor(prevTS / 60000), maxPoints)
  if n > 0 then
    local delta = count - rcall("HGET", metaKey, "prevCount")
    local points = {delta}
    for i = 2, n do points[i] = 0 end
    for from = 1, n, 5000 do
      rcall("LPUSH", dataKey, unpack(points, from, math.min(from + 4999, n)))
    end
    rcall("LTRIM", dataKey, 0, maxPoints - 1)
    rcall("HSET", metaKey, "prevCount", count, "prevTS", now)
  end
end

local finished = {c = 0, f = 0}

local function finish(jobKey, id, op, value, stack, count, age, attempts, made, parentKey)
  local target, field, event = KEYS[10], "returnvalue", "completed"
  if op == "f" then
    target, field, event = KEYS[11], "failedReason", "failed"
    rcall("HDEL", jobKey, "defa")
  end
  if count ~= 0 then
    if op == "f" then
      rcall("HSET", jobKey, field, value, "finishedOn", now, "atm", made,
            "stacktrace", stack)
    else
      rcall("HSET", jobKey, field, value, "finishedOn", now, "atm", made)
    end
    if op == "c" and count < 0 and age == "" then
      keepAll[#keepAll + 1] = now
      keepAll[#keepAll + 1] = id
    else
      flushKeepAll() -- finished before this one: trimmed with the rest
      rcall("ZADD", target, now, id)
      keepFinished(target, count, age)
    end
  else
    removeJobs({id})
    if parentKey ~= "" then leaveParent(jobKey, parentKey) end
  end
  rcall("XADD", kEvents, "*", "event", event, "jobId", id, field, value, "prev", "active")
  if op == "f" and tonumber(made) >= attempts then
    rcall("XADD", kEvents, "*", "event", "retries-exhausted", "jobId", id,
          "attemptsMade", made)
  end
  finished[op] = finished[op] + 1
end

local function retryLater(jobKey, id, delay, made)
  local ts = now + delay
  rcall("HSET", jobKey, "delay", delay, "atm", made)
  rcall("ZADD", kDelayed, delayedScore(ts), id)
  rcall("XADD", kEvents, "*", "event", "delayed", "jobId", id, "delay", ts)
end

local function settle(a)
  local id, token, op = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local jobKey = prefix .. id
  -- A parent completes only once its children are done and none failed
  -- it (-4 pending, -9 failed); the lock stays, the caller fails the job.
  if op == "c" and rcall("EXISTS", jobKey .. ":dependencies", jobKey .. ":unsuccessful") > 0 then
    if rcall("SCARD", jobKey .. ":dependencies") > 0 then return -4 end
    return -9
  end
  local rc = unlock(jobKey, token)
  if rc < 0 then return rc end
  if op == "d" or op == "w" then
    rcall("HSET", jobKey, "failedReason", ARGV[a + 3], "stacktrace", ARGV[a + 4])
  end
  if rcall("LREM", kActive, -1, id) < 1 then return -3 end
  if op == "c" or op == "f" then
    if ARGV[a + 11] ~= "" then
      dropDedupKey(id, ARGV[a + 11])
      requeueDedupNext(ARGV[a + 11])
    end
    if ARGV[a + 12] ~= "" or ARGV[a + 13] ~= "" then
      tellParent(jobKey, op, ARGV[a + 3], ARGV[a + 12], ARGV[a + 13])
    end
    finish(jobKey, id, op, ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5]),
           ARGV[a + 6], tonumber(ARGV[a + 7]), ARGV[a + 9], ARGV[a + 12])
  elseif op == "d" then
    retryLater(jobKey, id, tonumber(ARGV[a + 8]), ARGV[a + 9])
    return 1
  elseif op == "y" then
    -- job.moveToDelayed(): attemptsMade unchanged, no failedReason
    rcall("HSET", jobKey, "infraSince", ARGV[a + 3])
    retryLater(jobKey, id, tonumber(ARGV[a + 8]), ARGV[a + 9])
    return 1
  elseif op == "w" then
    rcall("HSET", jobKey, "atm", ARGV[a + 9])
    enqueue(jobKey, id, ARGV[a + 10] == "1")
  else
    enqueue(jobKey, id, true)
  end
  return 0
end

local codes, delayed = {}, false
if string.find(ARGV[9], "t", 1, true) then
  local maxEvents = meta[3]
  if not maxEvents then
    maxEvents = 10000
    rcall("HSET", kMeta, "opts.maxLenEvents", maxEvents)
  end
  rcall("XTRIM", kEvents, "MAXLEN", "~", maxEvents)
end
if nOut > 0 then
  for i = 1, nOut do
    local rc = settle(13 + (i - 1) * 14)
    if rc == 1 then delayed, rc = true, 0 end
    codes[i] = rc
  end
  if delayed then markDelayed() end
  flushKeepAll()
  if ARGV[12] ~= "" then
    for op, target in pairs({c = "completed", f = "failed"}) do
      if finished[op] > 0 then
        collectMetrics(prefix .. "metrics:" .. target, finished[op], tonumber(ARGV[12]))
      end
    end
  end
  -- Under a global concurrency limit, settled jobs free room: wake an
  -- idle worker (this one's own reply may say "maxed" when it was sent).
  if meta[2] and not meta[1] then rcall("ZADD", kMarker, 0, "0") end
end

local paused = isPaused()

-- Promote delayed jobs that are due.
local due = {}
if string.find(ARGV[9], "p", 1, true) then
  due = rcall("ZRANGEBYSCORE", kDelayed, 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
end
if #due > 0 then
  rcall("ZREM", kDelayed, unpack(due))
  for _, id in ipairs(due) do
    local jobKey = prefix .. id
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    if priority > 0 then
      rcall("ZADD", kPrio, priorityScore(priority), id)
    else
      rcall("LPUSH", kWait, id)
    end
    rcall("XADD", kEvents, "*", "event", "waiting", "jobId", id, "prev", "delayed")
    rcall("HSET", jobKey, "delay", 0)
  end
  if not paused then rcall("ZADD", kMarker, 0, "0") end
end

-- Global concurrency: never more active jobs than the queue allows.
local asked = nTake
if meta[2] and nTake > 0 then
  nTake = math.max(0, math.min(nTake, tonumber(meta[2]) - rcall("LLEN", kActive)))
end
-- Rate limit: the queue's max, else the worker's; the worker's duration
-- first (BullMQ's order). limitTtl > 0: limited for that many ms.
local limitMax = tonumber(meta[4] or ARGV[10])
local limitTtl, used = 0, 0
if limitMax and nTake > 0 then
  used = tonumber(rcall("GET", KEYS[12]) or 0)
  local pttl = used >= limitMax and rcall("PTTL", KEYS[12]) or 0
  if pttl > 0 then
    limitTtl, nTake = pttl, 0
  else
    if used >= limitMax then
      -- a window that has no time left (or lost its TTL) starts anew
      rcall("DEL", KEYS[12])
      used = 0
    end
    nTake = math.min(nTake, limitMax - used)
  end
end

local out = {codes, 0, paused and 1 or 0, limitTtl}
local taken = 0
if not paused and nTake > 0 then
  -- Wait list first (oldest at the right), then the prioritized set; all
  -- moved to active in one LPUSH, in the order RPOPLPUSH would give (one
  -- job alone: RPOPLPUSH itself, one command instead of two).
  local ids = {}
  if nTake == 1 then
    ids = {rcall("RPOPLPUSH", kWait, kActive)}
    if not ids[1] then ids = {} end
  elseif nTake > 1 then
    ids = rcall("RPOP", kWait, nTake) or {}
  end
  local moved = (nTake == 1) and #ids or 0
  if #ids < nTake then
    local top = rcall("ZPOPMIN", kPrio, nTake - #ids)
    for i = 1, #top, 2 do ids[#ids + 1] = top[i] end
  end
  for i = moved + 1, #ids, 5000 do
    rcall("LPUSH", kActive, unpack(ids, i, math.min(i + 4999, #ids)))
  end
  local seq = tonumber(ARGV[6])
  for _, id in ipairs(ids) do
    local jobKey = prefix .. id
    rcall("SET", jobKey .. ":lock", ARGV[5] .. ":" .. (seq + taken), "PX", ARGV[4])
    rcall("XADD", kEvents, "*", "event", "active", "jobId", id, "prev", "waiting")
    local fields = rcall("HGETALL", jobKey)
    local started, rjk, optsRaw = 0, nil, nil
    for i = 1, #fields, 2 do
      local f = fields[i]
      if f == "ats" then started = tonumber(fields[i + 1]) or 0
      elseif f == "rjk" then rjk = fields[i + 1]
      elseif f == "opts" then optsRaw = fields[i + 1] end
    end
    if rjk then scheduleNext(id, rjk, optsRaw) end
    rcall("HSET", jobKey, "processedOn", now, "pb", ARGV[3], "ats", started + 1)
    taken = taken + 1
    out[#out + 1] = id
    out[#out + 1] = fields
  end
  if limitMax then
    -- Jobs with a deferred failure are not counted (BullMQ's rule).
    local counted = taken
    for i = 6, #out, 2 do
      local f = out[i]
      for k = 1, #f, 2 do
        if f[k] == "defa" then counted = counted - 1 end
      end
    end
    if counted > 0 and rcall("INCRBY", KEYS[12], counted) == counted then
      rcall("PEXPIRE", KEYS[12], math.floor(math.abs(tonumber(ARGV[11]) or
                                                     tonumber(meta[5]) or 0)))
    end
    -- The window is full: say for how long, as BullMQ's next moveToActive
    -- would, so the worker waits for it rather than for the marker.
    if used + counted >= limitMax then
      local pttl = rcall("PTTL", KEYS[12])
      if pttl > 0 then out[4] = pttl end
    end
  end
  if taken == asked and taken > 0 and not rcall("ZSCORE", kMarker, "0") then
    -- Slots are full and jobs may remain: wake the next idle worker.
    rcall("ZADD", kMarker, 0, "0")
  end
end

if taken < asked or asked == 0 or paused then
  local first = rcall("ZRANGE", kDelayed, 0, 0, "WITHSCORES")
  if first[2] then out[2] = math.floor(tonumber(first[2]) / 0x1000) end
  if nOut > 0 and taken == 0 and rcall("LLEN", kWait) == 0 and
     rcall("LLEN", kActive) == 0 and rcall("ZCARD", kPrio) == 0 then
    rcall("DEL", kPc)
    rcall("XADD", kEvents, "*", "event", "drained")
  end
end
return out
