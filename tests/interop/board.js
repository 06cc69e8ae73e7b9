#!/usr/bin/env node
// board.js - Bull Board (pinned @bull-board/api and @bull-board/express)
// served on loopback over one queue, and read back through headless
// Chromium (Debian's, driven by the pinned puppeteer-core: no browser
// download). REDIS_HOST, REDIS_PORT, QUEUE_NAME and BULLMQ_PREFIX as in
// bull.js.
//
//   serve PORT_FILE        serve the board on a free loopback port, write
//                          the port to PORT_FILE, run until SIGTERM
//   read URL OUT_DIR       open the board at URL in the browser; for each
//                          view below, write OUT_DIR/<view>.txt (the
//                          rendered page's text) and OUT_DIR/<view>.png;
//                          views: overview (the queue list), info and
//                          workers (the queue's info panel and its
//                          connected workers), active, delayed, completed,
//                          failed (each state's list); jobs named after
//                          OUT_DIR (as STATE:ID) get a page each, with the
//                          text of every tab (Data, Options, Progress,
//                          Logs, Error) in turn
'use strict';
const fs = require('fs');
const path = require('path');

const connection = {
  host: process.env.REDIS_HOST || '127.0.0.1',
  port: Number(process.env.REDIS_PORT || 6379),
  maxRetriesPerRequest: null,
};
const name = process.env.QUEUE_NAME || 'scan-jobs';
const prefix = process.env.BULLMQ_PREFIX || 'bull';

async function serve(portFile) {
  const express = require('express');
  const { Queue } = require('bullmq');
  const { createBullBoard } = require('@bull-board/api');
  const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter');
  const { ExpressAdapter } = require('@bull-board/express');

  const queue = new Queue(name, { connection, prefix });
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/');
  createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter: adapter });
  const app = express();
  app.use('/', adapter.getRouter());
  const server = app.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(portFile + '.tmp', String(server.address().port) + '\n');
    fs.renameSync(portFile + '.tmp', portFile);
  });
  const stop = () => server.close(() => queue.close().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await new Promise(() => {});
}

// The page's visible text once it holds every string in want (or the
// bound passes: the caller's assertions then say what is missing).
async function settledText(page, want, ms) {
  const end = Date.now() + ms;
  let text = '';
  while (Date.now() < end) {
    text = await page.evaluate(() => document.body.innerText).catch(() => '');
    if (want.every(w => text.includes(w))) break;
    await new Promise(r => setTimeout(r, 250));
  }
  return text;
}

async function clickText(page, selector, label) {
  return page.evaluate((sel, lab) => {
    const el = [...document.querySelectorAll(sel)].find(e => e.innerText.trim() === lab);
    if (el) el.click();
    return !!el;
  }, selector, label);
}

async function read(url, outDir, ...jobs) {
  const puppeteer = require('puppeteer-core');
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      `--user-data-dir=${path.join(outDir, 'profile')}`],
  });
  const bound = Number(process.env.BOARD_WAIT_MS || 60000);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const save = async (view, text) => {
      fs.writeFileSync(path.join(outDir, `${view}.txt`), text);
      await page.screenshot({ path: path.join(outDir, `${view}.png`) });
    };
    // The overview: the queue, its counts and its workers.
    await page.goto(url, { waitUntil: 'networkidle0', timeout: bound });
    await save('overview', await settledText(page, [name], bound));
    // The queue's info panel: its worker count, then who they are.
    await page.goto(`${url}queue/${encodeURIComponent(name)}`,
      { waitUntil: 'networkidle0', timeout: bound });
    await page.waitForSelector('button[aria-label="Queue info"]', { timeout: bound });
    await page.click('button[aria-label="Queue info"]');
    let info = await settledText(page, ['Connected workers', 'Total jobs'], bound);
    await save('info', info);
    if (await clickText(page, 'button', 'Connected workers'))
      info = await settledText(page, ['connected '], bound);
    await save('workers', info);
    // Each state's list.
    for (const state of ['active', 'delayed', 'completed', 'failed']) {
      await page.goto(`${url}queue/${encodeURIComponent(name)}?status=${state}`,
        { waitUntil: 'networkidle0', timeout: bound });
      await save(state, await settledText(page, [name], bound));
    }
    // One job per argument, every tab's text.
    for (const spec of jobs) {
      const [state, id] = spec.split(/:(.*)/s);
      await page.goto(`${url}queue/${encodeURIComponent(name)}/${encodeURIComponent(id)}`,
        { waitUntil: 'networkidle0', timeout: bound });
      let text = await settledText(page, [id], bound);
      for (const tab of ['Data', 'Options', 'Progress', 'Logs', 'Error']) {
        if (await clickText(page, 'button, a, li, [role=tab]', tab)) {
          await new Promise(r => setTimeout(r, 300));
          text += `\n--- tab ${tab}\n` + await settledText(page, [], 1500);
        }
      }
      await save(`job-${state}-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`, text);
    }
  } finally {
    await browser.close();
  }
}

const [cmd, ...args] = process.argv.slice(2);
const commands = { serve, read };
if (!commands[cmd]) {
  console.error('usage: board.js serve PORT_FILE | read URL OUT_DIR [STATE:ID...]');
  process.exit(64);
}
commands[cmd](...args).then(() => process.exit(0), err => {
  console.error(err && err.stack || err);
  process.exit(1);
});
