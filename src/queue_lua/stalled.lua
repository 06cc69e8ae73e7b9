--[[
  stalled: the stalled-job check, as BullMQ's workers run it. Jobs marked
  on the previous pass whose lock is gone go back to wait (event "waiting"
  prev active, then "stalled"); past maxStalledCount the job is marked with
  a deferred failure ("defa") that the next worker to take it applies.
  Then every active job is marked for the next pass. Runs at most once per
  interval across all workers, guarded by the stalled-check key.

  KEYS: 7  stalled wait active stalled-check meta marker events
  ARGV[1] max stalled count  ARGV[2] key prefix  ARGV[3] now (ms)
  ARGV[4] check interval (ms)
  Returns the ids moved back.
]]
local rcall = redis.call
local kStalled, kWait, kActive, kCheck, kMeta, kMarker, kEvents =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local maxStalled, prefix = tonumber(ARGV[1]), ARGV[2]

if rcall("SET", kCheck, ARGV[3], "PX", ARGV[4], "NX") == false then
  return {}
end

local maxEvents = rcall("HGET", kMeta, "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", kMeta, "opts.maxLenEvents", maxEvents)
end
rcall("XTRIM", kEvents, "MAXLEN", "~", maxEvents)

local function isPaused()
  local m = rcall("HMGET", kMeta, "paused", "concurrency")
  if m[1] then return true end
  return m[2] and rcall("LLEN", kActive) >= tonumber(m[2]) or false
end

local function isSchedulerRun(jobKey)
  local rjk = rcall("HGET", jobKey, "rjk")
  if not rjk then return false end
  return rcall("EXISTS", prefix .. "repeat:" .. rjk) == 1 or
         rcall("ZSCORE", prefix .. "repeat", rjk) ~= false
end

local moved = {}
local suspects = rcall("SMEMBERS", kStalled)
if #suspects > 0 then
  rcall("DEL", kStalled)
  for _, id in ipairs(suspects) do
    local jobKey = prefix .. id
    if rcall("EXISTS", jobKey .. ":lock") == 0 and
       rcall("LREM", kActive, 1, id) > 0 then
      -- A job scheduler's run is never failed for stalling (BullMQ).
      if rcall("HINCRBY", jobKey, "stc", 1) > maxStalled and
         not isSchedulerRun(jobKey) then
        rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
      end
      rcall("RPUSH", kWait, id)
      if not isPaused() then rcall("ZADD", kMarker, 0, "0") end
      rcall("XADD", kEvents, "*", "event", "waiting", "jobId", id, "prev", "active")
      rcall("XADD", kEvents, "*", "event", "stalled", "jobId", id)
      moved[#moved + 1] = id
    end
  end
end

local active = rcall("LRANGE", kActive, 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", kStalled, unpack(active, i, math.min(i + 4999, #active)))
end
return moved
