--[[
  step: settle a batch of this worker's active jobs, then take up to N new
  ones, in one round trip. Same keys, fields and events as BullMQ 6.7;
  each job costs a handful of commands, while the queue metadata, delayed
  promotion and event trimming are paid once per call (the last two only
  when the caller asks, see ARGV[9]).

  KEYS: 11  wait active prioritized events stalled delayed meta pc marker
            completed failed
  ARGV[1] key prefix "<prefix>:<queue>:"   ARGV[2] now (ms)
  ARGV[3] worker name (job field "pb")      ARGV[4] lock duration (ms)
  ARGV[5] lock token base                   ARGV[6] first token sequence number
  ARGV[7] jobs to take                      ARGV[8] outcomes that follow
  ARGV[9] "t" trim the events stream, "p" promote due delayed jobs, or both
  then 10 per outcome: jobId token op value stacktrace keepCount keepAge
    attempts delay attemptsMade; op: c complete, f fail, d retry after
    delay, w retry now, r release (back to wait, no attempt counted).
    keepCount -1 keeps every job, 0 removes this one, N keeps the newest N;
    keepAge "" or seconds; attemptsMade counts this attempt (the lock holder
    is the only writer of "atm", so the caller knows it).
  Returns {codes, nextDelayedMs, paused, id1, fields1, id2, fields2...}:
  codes[i] is 0 or BullMQ's error code for outcome i (-1 no job hash,
  -2 lock missing, -6 lock owned by another token, -3 not active).
]]
local rcall = redis.call
local kWait, kActive, kPrio, kEvents, _, kDelayed, kMeta, kPc, kMarker =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local prefix, now = ARGV[1], tonumber(ARGV[2])
local nTake, nOut = tonumber(ARGV[7]), tonumber(ARGV[8])

local meta = rcall("HMGET", kMeta, "paused", "concurrency", "opts.maxLenEvents")

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

local function finish(jobKey, id, op, value, stack, count, age, attempts, made)
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
  end
  rcall("XADD", kEvents, "*", "event", event, "jobId", id, field, value, "prev", "active")
  if op == "f" and tonumber(made) >= attempts then
    rcall("XADD", kEvents, "*", "event", "retries-exhausted", "jobId", id,
          "attemptsMade", made)
  end
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
  local rc = unlock(jobKey, token)
  if rc < 0 then return rc end
  if op == "d" or op == "w" then
    rcall("HSET", jobKey, "failedReason", ARGV[a + 3], "stacktrace", ARGV[a + 4])
  end
  if rcall("LREM", kActive, -1, id) < 1 then return -3 end
  if op == "c" or op == "f" then
    finish(jobKey, id, op, ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5]),
           ARGV[a + 6], tonumber(ARGV[a + 7]), ARGV[a + 9])
  elseif op == "d" then
    retryLater(jobKey, id, tonumber(ARGV[a + 8]), ARGV[a + 9])
    return 1
  elseif op == "w" then
    rcall("HSET", jobKey, "atm", ARGV[a + 9])
    enqueue(jobKey, id, false)
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
    local rc = settle(10 + (i - 1) * 10)
    if rc == 1 then delayed, rc = true, 0 end
    codes[i] = rc
  end
  if delayed then markDelayed() end
  flushKeepAll()
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

local out = {codes, 0, paused and 1 or 0}
local taken = 0
if not paused then
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
    local started = 0
    for i = 1, #fields, 2 do
      if fields[i] == "ats" then started = tonumber(fields[i + 1]) or 0 end
    end
    rcall("HSET", jobKey, "processedOn", now, "pb", ARGV[3], "ats", started + 1)
    taken = taken + 1
    out[#out + 1] = id
    out[#out + 1] = fields
  end
  if taken == nTake and taken > 0 and not rcall("ZSCORE", kMarker, "0") then
    -- Slots are full and jobs may remain: wake the next idle worker.
    rcall("ZADD", kMarker, 0, "0")
  end
end

if taken < nTake or nTake == 0 or paused then
  local first = rcall("ZRANGE", kDelayed, 0, 0, "WITHSCORES")
  if first[2] then out[2] = math.floor(tonumber(first[2]) / 0x1000) end
  if nOut > 0 and taken == 0 and rcall("LLEN", kWait) == 0 and
     rcall("LLEN", kActive) == 0 and rcall("ZCARD", kPrio) == 0 then
    rcall("DEL", kPc)
    rcall("XADD", kEvents, "*", "event", "drained")
  end
end
return out
