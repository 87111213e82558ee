namespace Bulkhead.Redis.Internal;

/// <summary>
/// The server-side scripts: each is one atomic step on Redis's own clock, so replicas never compare clocks and never
/// interleave a read and a write.
/// </summary>
internal static class FleetScripts
{
    /// <summary>
    /// A token bucket (KEYS[1], a hash of tokens and last update): ARGV rate per second, burst, and how many permits to
    /// take (a negative number gives unused ones back, never above the burst), who asks and for how many ms an ask that
    /// came up short counts. Returns { granted, ms until the next ask }: at the limit, a replica asks again when a whole
    /// batch (at most a burst) can come at its share of the rate, the rate over the replicas that came up short lately,
    /// and never later than the bucket fills up: not for every permit as it drips in, and not all at once. A replica
    /// granted a whole batch that left less than another in the bucket asks again once another batch is there.
    /// </summary>
    public const string Permits = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local want = tonumber(ARGV[3])
        local window = tonumber(ARGV[5])
        local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(b[1])
        local ts = tonumber(b[2])
        if tokens == nil or ts == nil then
          tokens = burst
          ts = now
        end
        if now > ts then
          tokens = math.min(burst, tokens + (now - ts) * rate)
          ts = now
        end
        local granted = 0
        if want < 0 then
          tokens = math.min(burst, tokens - want)
        else
          granted = math.min(want, math.floor(tokens))
          tokens = tokens - granted
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
        local retry = 0
        if granted < want then
          redis.call('HSET', KEYS[1], 'short:' .. ARGV[4], tostring(now))
          local short = 0
          local fields = redis.call('HGETALL', KEYS[1])
          for i = 1, #fields, 2 do
            if string.sub(fields[i], 1, 6) == 'short:' then
              if (now - tonumber(fields[i + 1])) * 1000 < window then
                short = short + 1
              else
                redis.call('HDEL', KEYS[1], fields[i])
              end
            end
          end
          local batch = math.min(want, burst)
          local missing = math.min(want - granted, burst)
          retry = math.max(1, math.ceil((missing - tokens) / rate * 1000), math.ceil(math.min(short * batch, burst) / rate * 1000))
        elseif want > 0 and tokens < want then
          retry = math.ceil((want - tokens) / rate * 1000)
        end
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
        return { granted, retry }
        """;

    /// <summary>
    /// A semaphore whose seats are leases (KEYS: a hash of seats by replica, a sorted set of each replica's lease end, a
    /// sorted set of the replicas refused lately, the semaphore's epoch): first forgets the replicas whose lease ended,
    /// then moves this replica's seats toward ARGV target (down always, up only as far as the cap allows) and renews its
    /// lease; a replica refused seats is remembered for ARGV window ms.
    /// <para>
    /// The epoch tells lost state (a restart without persistence, FLUSHALL, a failover, an eviction) from a fresh
    /// semaphore: a replica passes the epoch it last saw (ARGV 6, empty when none). When that epoch is gone, the state
    /// was lost while replicas held seats: for ARGV recovery ms, seats are granted only as claims of seats already in use
    /// at their replica (ARGV 7), so that every live holder re-registers what it runs before anyone takes new ones.
    /// </para>
    /// Returns { seats this replica holds, replicas holding seats, other replicas refused lately, the epoch }, from which
    /// each holder works out its fair share.
    /// </summary>
    public const string Seats = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
        for _, r in ipairs(dead) do
          redis.call('HDEL', KEYS[1], r)
        end
        if #dead > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local target = tonumber(ARGV[2])
        local cap = tonumber(ARGV[3])
        local ttl = tonumber(ARGV[4])
        local window = tonumber(ARGV[5])
        local known = ARGV[6]
        local claim = tonumber(ARGV[7])
        local epoch = redis.call('HGET', KEYS[4], 'id')
        if not epoch then
          epoch = t[1] .. '.' .. t[2]
          redis.call('HSET', KEYS[4], 'id', epoch)
          if known ~= '' then
            redis.call('HSET', KEYS[4], 'until', now + tonumber(ARGV[8]))
          end
        elseif known ~= '' and known ~= epoch and not redis.call('HGET', KEYS[4], 'until') then
          redis.call('HSET', KEYS[4], 'until', now + tonumber(ARGV[8]))
        end
        redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[9]))
        local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
        if target > mine and now < tonumber(redis.call('HGET', KEYS[4], 'until') or '0') then
          target = math.max(mine, math.min(target, claim))
        end
        if target > mine then
          local total = 0
          for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
            total = total + tonumber(v)
          end
          local granted = math.max(0, math.min(target - mine, cap - total))
          mine = mine + granted
          if mine < target then
            redis.call('ZADD', KEYS[3], now + window, ARGV[1])
            redis.call('PEXPIRE', KEYS[3], window * 2)
          else
            redis.call('ZREM', KEYS[3], ARGV[1])
          end
        else
          mine = target
        end
        if mine > 0 then
          redis.call('HSET', KEYS[1], ARGV[1], mine)
          redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
          redis.call('PEXPIRE', KEYS[1], ttl * 2)
          redis.call('PEXPIRE', KEYS[2], ttl * 2)
        else
          redis.call('HDEL', KEYS[1], ARGV[1])
          redis.call('ZREM', KEYS[2], ARGV[1])
        end
        local wanting = redis.call('ZCARD', KEYS[3])
        if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
          wanting = wanting - 1
        end
        return { mine, redis.call('HLEN', KEYS[1]), wanting, epoch }
        """;
}
