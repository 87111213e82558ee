namespace Bulkhead.Tests.Admission;

/// <summary>
/// The admission rules of DESIGN.md stated sequentially, with no concurrency and no optimisation: the reference the
/// model test holds the engine to. Rate limits are token buckets on exact binary fractions of a second, so that the
/// model's arithmetic and the engine's agree to the tick.
/// </summary>
internal sealed class AdmissionModel
{
    private readonly int _pool;
    private readonly List<ModelClass[]> _groups;
    private readonly int[] _cursors;
    private readonly Dictionary<string, ModelClass> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<int, (ModelClass Class, string Partition)> _requests = [];

    public AdmissionModel(WorkloadIsolationOptions options, long nowTicks)
    {
        foreach ((string name, WorkloadClassOptions c) in options.Classes)
        {
            _byName[name] = new ModelClass(name, c, options.TotalConcurrency, nowTicks);
        }

        ModelClass[] ordered = [.. _byName.Values.OrderBy(c => c.Priority).ThenBy(c => c.Name, StringComparer.OrdinalIgnoreCase)];
        _groups = [.. ordered.GroupBy(c => c.Priority).Select(g => g.ToArray())];
        _cursors = new int[_groups.Count];
        _pool = options.TotalConcurrency - ordered.Sum(c => c.Reserved);
        ClassNames = [.. ordered.Select(c => c.Name)];
    }

    public enum Outcome
    {
        Granted,
        Queued,
        QueueFull,
        QueueTimeout,
        RateLimited,
        Canceled,
    }

    public IReadOnlyList<string> ClassNames { get; }

    private int SharedInUse => _byName.Values.Sum(c => Math.Max(0, c.InFlight - c.Reserved));

    public ModelClass Class(string name) => _byName[name];

    public string ClassOf(int id) => _requests[id].Class.Name;

    /// <summary>The retry-after of the last rate-limited acquire, in ticks.</summary>
    public long LastRetryAfterTicks { get; private set; }

    public List<(int, Outcome)> Acquire(int id, string name, string? partitionKey, bool wait, long nowTicks)
    {
        ModelClass c = _byName[name];
        string key = partitionKey ?? string.Empty;
        _requests[id] = (c, key);
        if (c.RateLimit is { } rate && !TakeToken(c.Bucket(key, rate, nowTicks), rate, nowTicks))
        {
            return [(id, Outcome.RateLimited)];
        }

        ModelPartition? own = c.Partitions.GetValueOrDefault(key);
        bool entitledWaiter = _byName.Values.Any(w => w.Priority <= c.Priority && w.InFlight < w.Max && w.PeekEligible() is not null);
        if (c.PeekEligible() is null && (own is null || own.Queue.Count == 0) && c.HasRoom(own) && CanTake(c, allowShared: !entitledWaiter))
        {
            c.InFlight++;
            c.Partition(key).InFlight++;
            return [(id, Outcome.Granted)];
        }

        if (!wait || c.QueueLimit == 0)
        {
            return [(id, Outcome.QueueFull)];
        }

        if (c.Timeout == TimeSpan.Zero)
        {
            return [(id, Outcome.QueueTimeout)];
        }

        List<(int, Outcome)> result = [];
        if (c.Queued >= c.QueueLimit)
        {
            ModelPartition? largest = null;
            foreach (ModelPartition p in c.RingFromCursor())
            {
                if (largest is null || p.Queue.Count > largest.Queue.Count)
                {
                    largest = p;
                }
            }

            int newcomerQueued = own?.Queue.Count ?? 0;
            if (!c.Lifo && newcomerQueued + 1 >= largest!.Queue.Count)
            {
                return [(id, Outcome.QueueFull)];
            }

            int victim = largest!.Queue[^1].Id;
            c.Remove(victim, served: false);
            result.Add((victim, Outcome.QueueFull));
        }

        long deadline = c.Timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : nowTicks + c.Timeout.Ticks;
        c.Add(key, (id, deadline));
        result.Add((id, Outcome.Queued));
        return result;
    }

    public List<(int, Outcome)> Release(int id)
    {
        (ModelClass c, string key) = _requests[id];
        c.InFlight--;
        c.Partition(key).InFlight--;
        c.ForgetIfIdle(key);
        return Pump();
    }

    public List<(int, Outcome)> Cancel(int id)
    {
        _requests[id].Class.Remove(id, served: false);
        return [(id, Outcome.Canceled)];
    }

    public List<(int, Outcome)> Advance(long nowTicks)
    {
        List<(int, Outcome)> result = [];
        foreach (ModelClass c in _byName.Values)
        {
            foreach ((int id, _) in c.Partitions.Values.SelectMany(p => p.Queue).Where(w => w.Deadline <= nowTicks).ToList())
            {
                c.Remove(id, served: false);
                result.Add((id, Outcome.QueueTimeout));
            }
        }

        return result;
    }

    public int PartitionInFlight(string name, string key) => _byName[name].Partitions.GetValueOrDefault(key)?.InFlight ?? 0;

    private bool TakeToken(ModelBucket bucket, WorkloadRateLimitOptions rate, long nowTicks)
    {
        double capacity = rate.Burst ?? Math.Max(1, (int)Math.Ceiling(rate.PermitsPerSecond));
        if (nowTicks > bucket.Updated)
        {
            bucket.Tokens = Math.Min(capacity, bucket.Tokens + (TimeSpan.FromTicks(nowTicks - bucket.Updated).TotalSeconds * rate.PermitsPerSecond));
            bucket.Updated = nowTicks;
        }

        if (bucket.Tokens >= 1)
        {
            bucket.Tokens -= 1;
            return true;
        }

        LastRetryAfterTicks = (long)Math.Ceiling((1 - bucket.Tokens) / rate.PermitsPerSecond * TimeSpan.TicksPerSecond);
        return false;
    }

    private bool CanTake(ModelClass c, bool allowShared) =>
        c.InFlight < c.Max && (c.InFlight < c.Reserved || (allowShared && SharedInUse < _pool));

    /// <summary>
    /// Free seats go to waiters: priorities in order, equal priorities in turn, shared seats never past a more
    /// important waiter; within a class, partitions in turn.
    /// </summary>
    private List<(int, Outcome)> Pump()
    {
        List<(int, Outcome)> granted = [];
        bool sharedBlocked = false;
        for (int g = 0; g < _groups.Count; g++)
        {
            ModelClass[] group = _groups[g];
            bool progress = true;
            while (progress)
            {
                progress = false;
                for (int k = 0; k < group.Length; k++)
                {
                    int index = (_cursors[g] + k) % group.Length;
                    ModelClass c = group[index];
                    if (c.PeekEligible() is not { } waiter || !CanTake(c, !sharedBlocked))
                    {
                        continue;
                    }

                    granted.Add((waiter.Id, Outcome.Granted));
                    c.Partition(_requests[waiter.Id].Partition).InFlight++;
                    c.Remove(waiter.Id, served: true);
                    c.InFlight++;
                    _cursors[g] = (index + 1) % group.Length;
                    progress = true;
                    break;
                }
            }

            sharedBlocked |= group.Any(c => c.InFlight < c.Max && c.PeekEligible() is not null);
        }

        return granted;
    }

    internal sealed class ModelBucket(double tokens, long updated)
    {
        public double Tokens { get; set; } = tokens;

        public long Updated { get; set; } = updated;
    }

    internal sealed class ModelPartition(string key)
    {
        public string Key { get; } = key;

        /// <summary>Gets the waiters in admission order (first is admitted next).</summary>
        public List<(int Id, long Deadline)> Queue { get; } = [];

        public int InFlight { get; set; }
    }

    internal sealed class ModelClass
    {
        private readonly Dictionary<string, ModelBucket> _buckets = [];
        private readonly List<ModelPartition> _ring = [];
        private readonly long _created;
        private ModelPartition? _cursor;

        public ModelClass(string name, WorkloadClassOptions options, int total, long nowTicks)
        {
            Name = name;
            Priority = options.Priority;
            Reserved = options.ReservedConcurrency;
            Max = options.MaxConcurrency ?? total;
            QueueLimit = options.QueueLimit;
            Timeout = options.QueueTimeout;
            Lifo = options.QueueOrder == WorkloadQueueOrder.Lifo;
            PartitionLimit = options.MaxConcurrencyPerPartition ?? 0;
            RateLimit = options.RateLimit;
            _created = nowTicks;
        }

        public string Name { get; }

        public int Priority { get; }

        public int Reserved { get; }

        public int Max { get; }

        public int QueueLimit { get; }

        public TimeSpan Timeout { get; }

        public bool Lifo { get; }

        public int PartitionLimit { get; }

        public WorkloadRateLimitOptions? RateLimit { get; }

        public int InFlight { get; set; }

        public Dictionary<string, ModelPartition> Partitions { get; } = new(StringComparer.Ordinal);

        public int Queued => Partitions.Values.Sum(p => p.Queue.Count);

        public ModelBucket Bucket(string key, WorkloadRateLimitOptions rate, long nowTicks)
        {
            string bucketKey = rate.PerPartition ? key : string.Empty;
            if (!_buckets.TryGetValue(bucketKey, out ModelBucket? bucket))
            {
                // The class bucket exists from the start; a partition's from its first request, full.
                double capacity = rate.Burst ?? Math.Max(1, (int)Math.Ceiling(rate.PermitsPerSecond));
                bucket = new ModelBucket(capacity, rate.PerPartition ? nowTicks : _created);
                _buckets[bucketKey] = bucket;
            }

            return bucket;
        }

        public ModelPartition Partition(string key)
        {
            if (!Partitions.TryGetValue(key, out ModelPartition? partition))
            {
                partition = new ModelPartition(key);
                Partitions[key] = partition;
            }

            return partition;
        }

        public bool HasRoom(ModelPartition? partition) => PartitionLimit == 0 || partition is null || partition.InFlight < PartitionLimit;

        public IEnumerable<ModelPartition> RingFromCursor()
        {
            if (_cursor is null)
            {
                yield break;
            }

            int start = _ring.IndexOf(_cursor);
            for (int k = 0; k < _ring.Count; k++)
            {
                yield return _ring[(start + k) % _ring.Count];
            }
        }

        public (int Id, long Deadline)? PeekEligible()
        {
            foreach (ModelPartition p in RingFromCursor())
            {
                if (HasRoom(p))
                {
                    return p.Queue[0];
                }
            }

            return null;
        }

        public void Add(string key, (int Id, long Deadline) waiter)
        {
            ModelPartition partition = Partition(key);
            partition.Queue.Insert(Lifo ? 0 : partition.Queue.Count, waiter);
            if (partition.Queue.Count == 1)
            {
                // A partition that starts waiting joins at the end of the current round.
                if (_cursor is null)
                {
                    _ring.Add(partition);
                    _cursor = partition;
                }
                else
                {
                    _ring.Insert(_ring.IndexOf(_cursor), partition);
                }
            }
        }

        public void Remove(int id, bool served)
        {
            ModelPartition partition = Partitions.Values.Single(p => p.Queue.Any(w => w.Id == id));
            ModelPartition next = _ring[(_ring.IndexOf(partition) + 1) % _ring.Count];
            partition.Queue.RemoveAll(w => w.Id == id);
            if (served)
            {
                _cursor = next;
            }

            if (partition.Queue.Count == 0)
            {
                if (_cursor == partition)
                {
                    _cursor = next == partition ? null : next;
                }

                _ring.Remove(partition);
                if (_ring.Count == 0)
                {
                    _cursor = null;
                }

                ForgetIfIdle(partition.Key);
            }
        }

        public void ForgetIfIdle(string key)
        {
            if (Partitions.TryGetValue(key, out ModelPartition? p) && p.Queue.Count == 0 && p.InFlight == 0)
            {
                Partitions.Remove(key);
            }
        }
    }
}
