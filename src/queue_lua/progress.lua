--[[
  progress: BullMQ's updateProgress and addLog for one job, in one call.
  A job that no longer exists is left alone (-1), as BullMQ's scripts do.

  KEYS: 2  events meta
  ARGV[1] key prefix "<prefix>:<queue>:"  ARGV[2] job id
  ARGV[3] progress (JSON text, "" none)   ARGV[4] log line ("" none)
  ARGV[5] keepLogs ("" keeps every line)
  Returns 0, or -1 when the job hash is gone.
]]
local rcall = redis.call
local jobKey = ARGV[1] .. ARGV[2]
if rcall("EXISTS", jobKey) == 0 then return -1 end
if ARGV[3] ~= "" then
  local maxEvents = rcall("HGET", KEYS[2], "opts.maxLenEvents") or 10000
  rcall("HSET", jobKey, "progress", ARGV[3])
  rcall("XADD", KEYS[1], "MAXLEN", "~", maxEvents, "*", "event", "progress",
        "jobId", ARGV[2], "data", ARGV[3])
end
if ARGV[4] ~= "" then
  local logs = jobKey .. ":logs"
  rcall("RPUSH", logs, ARGV[4])
  if ARGV[5] ~= "" then rcall("LTRIM", logs, -tonumber(ARGV[5]), -1) end
end
return 0
