--[[
  renew: extend the locks of many active jobs in one call and take them
  off the stalled-suspects set. A lock that is gone or held by another
  token is not touched; its job id is returned so the worker can give the
  job up.

  KEYS: 1  stalled
  ARGV[1] key prefix  ARGV[2] lock duration (ms)  then jobId token pairs
  Returns the ids whose lock was lost.
]]
local rcall = redis.call
local lost, kept = {}, {}
for i = 3, #ARGV, 2 do
  local lockKey = ARGV[1] .. ARGV[i] .. ":lock"
  if rcall("GET", lockKey) == ARGV[i + 1] then
    rcall("SET", lockKey, ARGV[i + 1], "PX", ARGV[2])
    kept[#kept + 1] = ARGV[i]
  else
    lost[#lost + 1] = ARGV[i]
  end
end
for i = 1, #kept, 5000 do
  rcall("SREM", KEYS[1], unpack(kept, i, math.min(i + 4999, #kept)))
end
return lost
