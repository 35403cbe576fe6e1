-- GCRA for one caller, atomically (docs/ARCHITECTURE.md, "Rate limits shared by replicas").
--
-- KEYS[1]  the caller's key; its value is the theoretical arrival time (TAT) in microseconds
-- ARGV[1]  the emission interval in microseconds (60 s / calls per minute)
-- ARGV[2]  the burst: calls admitted back to back
-- ARGV[3]  now in microseconds, or '' to read Redis's own clock (TIME): every replica then
--          counts on one clock, whatever their own clocks say. Tests pass a clock they drive.
--
-- Returns {1, 0} when the call is admitted (one unit spent), {0, wait} when it is refused
-- (nothing spent; one would be admitted wait microseconds from now). The key expires when
-- its TAT has passed, when it holds no more than an absent key would: state stays bounded.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[3])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil or tat < now then
  tat = now
end
local next_tat = tat + interval
local allowed_at = next_tat - interval * burst
if now < allowed_at then
  return {0, allowed_at - now}
end
local ttl_ms = math.ceil((next_tat - now) / 1000)
if ttl_ms < 1 then
  ttl_ms = 1
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl_ms)
return {1, 0}
