--[[
  add: add one job, BullMQ style. With a custom id that already exists the
  call is a no-op apart from BullMQ's "duplicated" event.

  KEYS: 9  wait meta id delayed active events marker prioritized pc
  ARGV[1] key prefix  ARGV[2] job id ("" = next counter value)  ARGV[3] name
  ARGV[4] timestamp (ms)  ARGV[5] data (JSON)  ARGV[6] opts (JSON)
  ARGV[7] delay (ms)  ARGV[8] priority
  Returns {jobId, 1 added | 0 existed}.
]]
local rcall = redis.call
local kWait, kMeta, kId, kDelayed, kActive, kEvents, kMarker, kPrio, kPc =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now, delay, priority = tonumber(ARGV[4]), tonumber(ARGV[7]), tonumber(ARGV[8])

local counter = rcall("INCR", kId)
local id = ARGV[2]
if id == "" then id = tostring(counter) end
local jobKey = ARGV[1] .. id

local maxEvents = rcall("HGET", kMeta, "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", kMeta, "opts.maxLenEvents", maxEvents)
end

if rcall("EXISTS", jobKey) == 1 then
  rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "duplicated", "jobId", id)
  return {id, 0}
end

rcall("HSET", jobKey, "name", ARGV[3], "data", ARGV[5], "opts", ARGV[6],
      "timestamp", now, "delay", delay, "priority", priority)
rcall("XADD", kEvents, "*", "event", "added", "jobId", id, "name", ARGV[3])

if delay > 0 then
  local ts = now + delay
  local lo, hi = ts * 0x1000, (ts + 1) * 0x1000 - 1
  local top = rcall("ZREVRANGEBYSCORE", kDelayed, hi, lo, "WITHSCORES", "LIMIT", 0, 1)
  local score = top[2] and math.min(tonumber(top[2]) + 1, hi) or lo
  rcall("ZADD", kDelayed, score, id)
  rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "delayed", "jobId", id, "delay", ts)
  local first = rcall("ZRANGE", kDelayed, 0, 0, "WITHSCORES")
  rcall("ZADD", kMarker, tonumber(first[2]) / 0x1000, "1")
  return {id, 1}
end

local m = rcall("HMGET", kMeta, "paused", "concurrency")
local paused = m[1] or (m[2] and rcall("LLEN", kActive) >= tonumber(m[2]))
if priority > 0 then
  rcall("ZADD", kPrio, priority * 0x100000000 + rcall("INCR", kPc) % 0x100000000, id)
else
  rcall("LPUSH", kWait, id)
end
if not paused then rcall("ZADD", kMarker, 0, "0") end
rcall("XADD", kEvents, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", id)
return {id, 1}
