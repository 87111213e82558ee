using System.Diagnostics;

namespace Bulkhead.Tests.Admission;

/// <summary>
/// The admission rules of docs/design.md stated sequentially, with no concurrency and no optimisation: the reference the
/// model test holds the engine to. Rate limits are token buckets on exact binary fractions of a second, so that the
/// model's arithmetic and the engine's agree to the tick.
/// </summary>
/// <remarks>
/// Weights: a unit of work of weight <c>w</c> takes <c>min(w, widest)</c> seats at once, where <c>widest</c> is the
/// most the class can give under the limits in force (its maximum, its partition limit, its reservation plus the pool);
/// a unit wider than the configured limits allow is rejected at once. Every seat rule counts seats. A wide head short of
/// shared seats keeps its class's turn among the classes of its priority, which then take only reserved seats; a
/// partition served <c>s</c> seats gives up its next <c>s − 1</c> turns.
/// </remarks>
internal sealed class AdmissionModel
{
    private readonly Dictionary<string, ModelClass> _byName = new(StringComparer.OrdinalIgnoreCase);
    private int _pool;
    private List<ModelClass[]> _groups = [];
    private int[] _cursors = [];
    private string _defaultClass = string.Empty;
    private readonly Dictionary<int, ModelClass> _requests = [];
    private readonly Dictionary<int, ModelPartition> _heldPartitions = [];
    private readonly HashSet<int> _background = [];
    private readonly Dictionary<int, int> _seats = [];
    private IReadOnlyDictionary<string, int?> _configuredMaxima = new Dictionary<string, int?>();
    private HashSet<string> _shed = new(StringComparer.OrdinalIgnoreCase);

    public AdmissionModel(WorkloadIsolationOptions options, long nowTicks) => Reconfigure(options, nowTicks);

    /// <summary>Gets how many units started waiting in a standing queue (queue delay control): they waited the target.</summary>
    public int StandingArrivals { get; private set; }

    /// <summary>Gets the units granted while more of their partition's work waited (Execution.BackloggedPartitionCpuPriority).</summary>
    public HashSet<int> BackloggedGrants { get; } = [];

    public enum Outcome
    {
        Granted,
        Queued,
        QueueFull,
        QueueTimeout,
        RateLimited,
        Canceled,
        WeightTooLarge,
        DeadlineExceeded,
        Shed,
    }

    /// <summary>Gets the configured classes' names, most important first.</summary>
    public IReadOnlyList<string> ClassNames { get; private set; } = [];

    /// <summary>Gets every class with state, removed ones (draining) included.</summary>
    public IEnumerable<ModelClass> AllClasses => _byName.Values;

    public int Pool => _pool;

    /// <summary>
    /// Puts a new configuration in force, as the engine must: state carries over; a class keeps its seats whatever its
    /// new limits; a removed class keeps its seats in flight but no reservation and no seat to give, and its waiters
    /// join the default class's queue in the order they came; an unchanged rate limit keeps its buckets; then free
    /// seats go to waiters.
    /// </summary>
    /// <param name="options">The limits in force (the adaptive controller's effective limits as MaxConcurrency).</param>
    /// <param name="nowTicks">The time.</param>
    /// <param name="configuredMaxima">The configured MaxConcurrency by class where it differs from the one in force: the widest unit admitted follows the configuration.</param>
    /// <param name="shed">
    /// The classes shed under pressure (their MaxConcurrency in <paramref name="options"/> is then 0): their waiters,
    /// those just moved to one included, leave rejected in the order they came, but background work, which waits on; new
    /// work of theirs is rejected at once, but background work.
    /// </param>
    public List<(int, Outcome)> Reconfigure(WorkloadIsolationOptions options, long nowTicks, IReadOnlyDictionary<string, int?>? configuredMaxima = null, IEnumerable<string>? shed = null)
    {
        _configuredMaxima = configuredMaxima ?? new Dictionary<string, int?>();

        // The pool first: how wide a waiter may be served depends on it.
        _pool = options.TotalConcurrency - options.Classes.Values.Sum(c => c.ReservedConcurrency);
        foreach ((string name, WorkloadClassOptions c) in options.Classes)
        {
            if (!_byName.TryGetValue(name, out ModelClass? existing))
            {
                existing = new ModelClass(name);
                existing.SeatsOf = weight => SeatsFor(existing, weight);
                _byName[name] = existing;
            }

            existing.Configure(c, options.TotalConcurrency, options.MaxTrackedPartitions, nowTicks);
        }

        foreach (ModelClass c in _byName.Values.Where(c => !options.Classes.ContainsKey(c.Name)).ToList())
        {
            if (c.InFlight == 0 && !c.Waiting().Any())
            {
                // Drained: forgotten, as the engine forgets a class it no longer needs; added back, it starts afresh
                // (its partitions, the turns they owe, its buckets).
                _byName.Remove(c.Name);
                continue;
            }

            c.Drain(options.MaxTrackedPartitions);
        }

        ModelClass[] ordered = [.. _byName.Values.OrderBy(c => c.Priority).ThenBy(c => c.Name, StringComparer.OrdinalIgnoreCase)];
        _groups = [.. ordered.GroupBy(c => c.Priority).Select(g => g.ToArray())];
        _cursors = new int[_groups.Count];
        Debug.Assert(_pool == options.TotalConcurrency - ordered.Where(c => !c.Removed).Sum(c => c.Reserved), "The pool counts the classes in force.");
        ClassNames = [.. ordered.Where(c => !c.Removed).Select(c => c.Name)];
        _defaultClass = options.DefaultClass;

        ModelClass target = _byName[_defaultClass];
        List<(ModelWaiter Waiter, string Key)> moved = [];
        foreach (ModelClass c in ordered.Where(c => c.Removed))
        {
            foreach (ModelPartition p in c.Waiting().ToList())
            {
                foreach (ModelWaiter waiter in p.Queue.ToList())
                {
                    moved.Add((waiter, c.KeyOf(waiter.Id)));
                    c.Remove(waiter.Id, served: false);
                }
            }
        }

        if (moved.Count > 0 && target.Queued == 0)
        {
            target.NonEmptySince = nowTicks;
        }

        foreach ((ModelWaiter waiter, string key) in moved.OrderBy(w => w.Waiter.Id))
        {
            target.Add(key, waiter, lifo: false);
            _requests[waiter.Id] = target;
        }

        _shed = new HashSet<string>(shed ?? [], StringComparer.OrdinalIgnoreCase);
        List<(int, Outcome)> served = [];
        foreach (ModelClass c in ordered.Where(c => !c.Removed && _shed.Contains(c.Name)))
        {
            foreach (int id in c.Waiting().SelectMany(p => p.Queue).Select(w => w.Id).Where(id => !_background.Contains(id)).Order().ToList())
            {
                c.Remove(id, served: false);
                served.Add((id, Outcome.Shed));
            }
        }

        served.AddRange(Pump());
        LastMoved = [.. moved.Select(w => w.Waiter.Id).Where(IsQueued)];
        return served;
    }

    /// <summary>Gets the waiters the last reconfiguration moved from removed classes to the default class that still wait there.</summary>
    public IReadOnlyList<int> LastMoved { get; private set; } = [];

    /// <summary>Whether the unit of work is waiting in a queue.</summary>
    public bool IsQueued(int id) => _requests.TryGetValue(id, out ModelClass? c) && c.Waiting().Any(p => p.Queue.Any(w => w.Id == id));

    private int SharedInUse => _byName.Values.Sum(c => Math.Max(0, c.InFlight - c.Reserved));

    public ModelClass Class(string name) => _byName[name];

    public string ClassOf(int id) => _requests[id].Name;

    /// <summary>The retry-after of the last rate-limited acquire, in ticks.</summary>
    public long LastRetryAfterTicks { get; private set; }

    /// <summary>
    /// An arrival. <paramref name="background"/> work waits outside QueueLimit and QueueTimeout: it is never turned
    /// away by a full queue, never times out, and is never the one evicted to make room for a newcomer (who is then
    /// turned away instead), but it counts toward the queue newcomers see. Work with a <paramref name="deadlineTicks"/>
    /// that has passed is refused before anything else; queued, it leaves at its deadline or its class's queue timeout,
    /// whichever comes first (its deadline on a tie).
    /// </summary>
    public List<(int, Outcome)> Acquire(int id, string name, string? partitionKey, bool wait, long nowTicks, bool background = false, int weight = 1, long? deadlineTicks = null)
    {
        ModelClass c = _byName[name];
        string key = partitionKey ?? string.Empty;
        _requests[id] = c;
        if (deadlineTicks <= nowTicks)
        {
            return [(id, Outcome.DeadlineExceeded)];
        }

        int configuredMax = _configuredMaxima.TryGetValue(name, out int? configured) ? configured ?? int.MaxValue : c.Max;
        if (weight > Math.Min(configuredMax, EverAvailable(c)))
        {
            return [(id, Outcome.WeightTooLarge)];
        }

        if (_shed.Contains(c.Name) && !background)
        {
            // Refused before it spends a rate permit; background work waits for the pressure to ease.
            return [(id, Outcome.Shed)];
        }

        if (c.RateLimit is { } rate && !TakeToken(c.Bucket(key, rate, nowTicks), rate, nowTicks))
        {
            return [(id, Outcome.RateLimited)];
        }

        int seats = SeatsFor(c, weight);
        ModelPartition? own = c.Find(key);
        if (c.PeekEligible() is null && (own is null || own.Queue.Count == 0) && c.HasRoom(own, seats) && CanTake(c, seats, allowShared: !HasEntitledWaiter(c.Priority)))
        {
            Take(c, id, seats, c.PartitionLimit > 0 ? c.Track(key) : null);
            return [(id, Outcome.Granted)];
        }

        if (!wait || (!background && c.QueueLimit == 0))
        {
            return [(id, Outcome.QueueFull)];
        }

        if (!background && c.Timeout == TimeSpan.Zero)
        {
            return [(id, Outcome.QueueTimeout)];
        }

        List<(int, Outcome)> result = [];
        if (!background && c.Queued >= c.QueueLimit)
        {
            // The partition with the most waiters; of equals, the one that came to that number last.
            ModelPartition? largest = c.Waiting().MaxBy(p => (p.Queue.Count, p.SizeChangedAt));

            int newcomerQueued = own?.Queue.Count ?? 0;
            if (!c.Lifo && newcomerQueued + 1 >= largest!.Queue.Count)
            {
                return [(id, Outcome.QueueFull)];
            }

            int victim = largest!.Queue[^1].Id;
            if (_background.Contains(victim))
            {
                return [(id, Outcome.QueueFull)];
            }

            c.Remove(victim, served: false);
            result.Add((victim, Outcome.QueueFull));
        }

        // Queue delay control: a queue that has held work without a moment empty for its interval stands; work that
        // starts waiting in it then waits only the target, newest first.
        bool standing = c.QueueDelay is { } delay && c.Queued > 0 && c.NonEmptySince + delay.Interval.Ticks <= nowTicks;
        if (c.Queued == 0)
        {
            c.NonEmptySince = nowTicks;
        }

        StandingArrivals += standing ? 1 : 0;

        TimeSpan timeout = standing ? c.QueueDelay!.Target : c.Timeout;
        long timesOut = background || timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : nowTicks + timeout.Ticks;
        if (background)
        {
            _background.Add(id);
        }

        bool deadlineFirst = deadlineTicks is { } late && late <= timesOut;
        c.Add(key, new ModelWaiter(id, deadlineFirst ? deadlineTicks!.Value : timesOut, weight, deadlineFirst), c.Lifo || (standing && c.QueueDelay!.LifoWhenStanding));
        result.Add((id, Outcome.Queued));

        // Last in, first out: a narrow newcomer put before a wide waiter may start at once.
        result.AddRange(Pump());
        return result;
    }

    /// <summary>The most seats the class could ever give one unit: its reservation and the pool, and its partition limit.</summary>
    private int EverAvailable(ModelClass c) => Math.Min(c.Reserved + _pool, c.PartitionLimit > 0 ? c.PartitionLimit : int.MaxValue);

    /// <summary>The seats a unit of <paramref name="weight"/> takes: its weight, clamped to what the class can give under the limits in force.</summary>
    public int SeatsFor(ModelClass c, int weight) => Math.Min(weight, Math.Max(1, Math.Min(c.Max, EverAvailable(c))));

    private void Take(ModelClass c, int id, int seats, ModelPartition? partition)
    {
        c.InFlight += seats;
        _seats[id] = seats;
        if (partition is not null)
        {
            partition.InFlight += seats;
            _heldPartitions[id] = partition;
        }
    }

    /// <summary>Whether a class of this or a more important priority has a waiter it could start but for the shared pool.</summary>
    private bool HasEntitledWaiter(int priority) => _byName.Values.Any(w => w.Priority <= priority && IsEntitled(w));

    /// <summary>Whether the class's next waiter fits under its maximum (only the pool may hold it back).</summary>
    public bool IsEntitled(ModelClass c) => c.PeekEligible() is { } head && c.InFlight + SeatsFor(c, head.Weight) <= c.Max;

    public List<(int, Outcome)> Release(int id)
    {
        ModelClass c = _requests[id];
        _seats.Remove(id, out int seats);
        c.InFlight -= seats;
        if (_heldPartitions.Remove(id, out ModelPartition? held))
        {
            held.InFlight -= seats;
            c.SeatFreed(held);
        }

        return Pump();
    }

    /// <summary>A waiter canceled: it leaves, and a narrower waiter behind a wide one may start.</summary>
    public List<(int, Outcome)> Cancel(int id)
    {
        _requests[id].Remove(id, served: false);
        return [(id, Outcome.Canceled), .. Pump()];
    }

    public List<(int, Outcome)> Advance(long nowTicks)
    {
        // Waiters time out in the order their timers fire: by deadline, then in the order they started waiting. The
        // order matters: it decides which of two partitions came to a size last (the eviction tie-break).
        List<(int, Outcome)> result = [];
        var expired = _byName.Values
            .SelectMany(c => c.Waiting().SelectMany(p => p.Queue).Where(w => w.Deadline <= nowTicks).Select(w => (Class: c, w.Id, w.Deadline, w.DeadlineFirst)))
            .OrderBy(w => w.Deadline).ThenBy(w => w.Id).ToList();
        foreach ((ModelClass c, int id, _, bool deadlineFirst) in expired)
        {
            c.Remove(id, served: false);
            result.Add((id, deadlineFirst ? Outcome.DeadlineExceeded : Outcome.QueueTimeout));
        }

        // Then a narrower waiter behind a wide one that timed out may start. (The engine's timers run one by one, each
        // followed by a look for waiters to serve, but a waiter past its timeout is never served: the outcome is the same.)
        if (expired.Count > 0)
        {
            result.AddRange(Pump());
        }

        return result;
    }

    public int BackgroundQueued(string name) => _byName[name].Waiting().SelectMany(p => p.Queue).Count(w => _background.Contains(w.Id));

    public int PartitionInFlight(string name, string key) => _byName[name].Find(key)?.InFlight ?? 0;

    /// <summary>Brings a bucket to <paramref name="nowTicks"/>, as the engine's bucket does whenever it is read.</summary>
    internal static void Refill(ModelBucket bucket, double capacity, WorkloadRateLimitOptions rate, long nowTicks)
    {
        if (nowTicks > bucket.Updated)
        {
            bucket.Tokens = Math.Min(capacity, bucket.Tokens + (TimeSpan.FromTicks(nowTicks - bucket.Updated).TotalSeconds * rate.PermitsPerSecond));
            bucket.Updated = nowTicks;
        }
    }

    private bool TakeToken(ModelBucket bucket, WorkloadRateLimitOptions rate, long nowTicks)
    {
        double capacity = rate.Burst ?? Math.Max(1, (int)Math.Ceiling(rate.PermitsPerSecond));
        Refill(bucket, capacity, rate, nowTicks);
        if (bucket.Tokens >= 1)
        {
            bucket.Tokens -= 1;
            return true;
        }

        LastRetryAfterTicks = (long)Math.Ceiling((1 - bucket.Tokens) / rate.PermitsPerSecond * TimeSpan.TicksPerSecond);
        return false;
    }

    private bool CanTake(ModelClass c, int seats, bool allowShared)
    {
        int shared = Math.Max(0, c.InFlight + seats - c.Reserved) - Math.Max(0, c.InFlight - c.Reserved);
        return c.InFlight + seats <= c.Max && (shared == 0 || (allowShared && SharedInUse + shared <= _pool));
    }

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

                // The first class in turn whose head is wide and fits its class goes first, and holds the shared seats.
                int holder = Enumerable.Range(0, group.Length).Select(k => (_cursors[g] + k) % group.Length)
                    .Where(i => group[i].PeekEligible() is { } head && SeatsFor(group[i], head.Weight) > 1 && IsEntitled(group[i]))
                    .DefaultIfEmpty(-1).First();
                int start = holder >= 0 ? holder : _cursors[g];
                for (int k = 0; k < group.Length; k++)
                {
                    int index = (start + k) % group.Length;
                    ModelClass c = group[index];
                    if (c.PeekEligible() is not { } waiter)
                    {
                        continue;
                    }

                    int seats = SeatsFor(c, waiter.Weight);
                    bool allowShared = !sharedBlocked && (holder < 0 || holder == index);
                    if (!CanTake(c, seats, allowShared))
                    {
                        continue;
                    }

                    granted.Add((waiter.Id, Outcome.Granted));
                    ModelPartition partition = c.PartitionOf(waiter.Id);
                    Take(c, waiter.Id, seats, c.PartitionLimit > 0 ? partition : null);
                    c.Remove(waiter.Id, served: true, seats);

                    // Backlogged: more of its partition's work still waits behind it as it leaves the queue.
                    if (c.Backlogs && partition.Queue.Count > 0)
                    {
                        BackloggedGrants.Add(waiter.Id);
                    }

                    _cursors[g] = holder >= 0 && holder != index ? holder : (index + 1) % group.Length;
                    progress = true;
                    break;
                }
            }

            sharedBlocked |= group.Any(IsEntitled);
        }

        return granted;
    }

    /// <summary>A waiter: when it times out, and the seats it asked for.</summary>
    /// <summary>A waiter: it leaves at <paramref name="Deadline"/> unless served, its caller's deadline when <paramref name="DeadlineFirst"/>, else its class's queue timeout.</summary>
    internal sealed record ModelWaiter(int Id, long Deadline, int Weight, bool DeadlineFirst = false);

    internal sealed class ModelBucket(double tokens, long updated)
    {
        public double Tokens { get; set; } = tokens;

        public long Updated { get; set; } = updated;
    }

    internal sealed class ModelPartition(string key, bool isOverflow)
    {
        public string Key { get; } = key;

        public bool IsOverflow { get; } = isOverflow;

        /// <summary>Gets the waiters in admission order (first is admitted next).</summary>
        public List<ModelWaiter> Queue { get; } = [];

        public int InFlight { get; set; }

        /// <summary>Gets or sets the turns the partition owes for seats it took beyond one per turn.</summary>
        public int Debt { get; set; }

        /// <summary>Gets or sets when the number of waiters last changed (a counter of the class's changes).</summary>
        public long SizeChangedAt { get; set; }
    }

    internal sealed class ModelClass
    {
        private readonly Dictionary<string, ModelBucket> _buckets = [];
        private readonly List<string> _bucketSlots = [];
        private int _hand;
        private ModelBucket? _classBucket;
        // Partitions with waiters that may start work, served in turn from the cursor; and those at their per-partition
        // limit, held out of the ring in the order they reached it until a seat of theirs frees.
        private readonly List<ModelPartition> _ring = [];
        private readonly List<ModelPartition> _held = [];
        private long _sizeChanges;
        private readonly Dictionary<int, string> _keys = [];
        private readonly ModelPartition?[] _overflow = new ModelPartition?[64];
        private int _maxTracked;
        private long _created;
        private ModelPartition? _cursor;

        public ModelClass(string name) => Name = name;

        public void Configure(WorkloadClassOptions options, int total, int maxTracked, long nowTicks)
        {
            WorkloadRateLimitOptions? rate = options.RateLimit;
            bool sameRate = !Removed && RateLimit is { } old && rate is not null && old.PermitsPerSecond.Equals(rate.PermitsPerSecond)
                && old.Burst == rate.Burst && old.PerPartition == rate.PerPartition && _maxTracked == maxTracked;
            if (!sameRate)
            {
                // A new limiter: full buckets, made now.
                ClearBuckets();
                _created = nowTicks;
                RateLimit = rate is null ? null : new WorkloadRateLimitOptions { PermitsPerSecond = rate.PermitsPerSecond, Burst = rate.Burst, PerPartition = rate.PerPartition };
            }

            Removed = false;
            _maxTracked = maxTracked;
            Priority = options.Priority;
            Reserved = options.ReservedConcurrency;
            Max = options.MaxConcurrency ?? total;
            QueueLimit = options.QueueLimit;
            Timeout = options.QueueTimeout;
            Lifo = options.QueueOrder == WorkloadQueueOrder.Lifo;
            QueueDelay = options.QueueDelay;
            PartitionLimit = options.MaxConcurrencyPerPartition ?? 0;
            Backlogs |= options.Execution?.BackloggedPartitionCpuPriority is not null;
            Rebalance();
        }

        /// <summary>Drains: no reservation, no seat to give, no rate limit; priority, queue settings and state stay.</summary>
        public void Drain(int maxTracked)
        {
            Removed = true;
            _maxTracked = maxTracked;
            Reserved = 0;
            Max = 0;
            PartitionLimit = 0;
            RateLimit = null;
            ClearBuckets();
            Rebalance();
        }

        private void ClearBuckets()
        {
            _buckets.Clear();
            _bucketSlots.Clear();
            _hand = 0;
            _classBucket = null;
        }

        public bool Removed { get; private set; }

        public string Name { get; }

        public int Priority { get; private set; }

        public int Reserved { get; private set; }

        public int Max { get; private set; }

        public int QueueLimit { get; private set; }

        public TimeSpan Timeout { get; private set; }

        public bool Lifo { get; private set; }

        /// <summary>Gets the class's queue delay control, or <see langword="null"/>.</summary>
        public WorkloadQueueDelayOptions? QueueDelay { get; private set; }

        /// <summary>Gets or sets when the queue last went from empty to holding work (ticks).</summary>
        public long NonEmptySince { get; set; }

        public int PartitionLimit { get; private set; }

        /// <summary>Gets a value indicating whether the class runs backlogged partitions' work apart (kept until restart, as its threads are).</summary>
        public bool Backlogs { get; private set; }

        public WorkloadRateLimitOptions? RateLimit { get; private set; }

        public int InFlight { get; set; }

        /// <summary>Gets the partitions tracked by key; keys past the cap share 64 overflow partitions by hash.</summary>
        public Dictionary<string, ModelPartition> Partitions { get; } = new(StringComparer.Ordinal);

        public int Queued => Waiting().Sum(p => p.Queue.Count);

        /// <summary>Gets every partition with waiters: the ring from the cursor, then the held ones.</summary>
        public IEnumerable<ModelPartition> Waiting() => RingFromCursor().Concat(_held);

        /// <summary>
        /// The bucket a request draws from: the class's, or its partition's. Partition buckets are capped like the
        /// engine's: at the cap, a new key's fresh bucket replaces the fullest of the next 8 tracked ones in clock order
        /// (the first of equals), and the hand moves past it.
        /// </summary>
        public ModelBucket Bucket(string key, WorkloadRateLimitOptions rate, long nowTicks)
        {
            double capacity = rate.Burst ?? Math.Max(1, (int)Math.Ceiling(rate.PermitsPerSecond));
            if (!rate.PerPartition)
            {
                return _classBucket ??= new ModelBucket(capacity, _created);
            }

            if (_buckets.TryGetValue(key, out ModelBucket? bucket))
            {
                return bucket;
            }

            if (_bucketSlots.Count < _maxTracked)
            {
                _bucketSlots.Add(key);
            }
            else
            {
                int count = _bucketSlots.Count;
                int best = _hand;
                double bestTokens = double.MinValue;
                for (int i = 0; i < Math.Min(8, count); i++)
                {
                    int slot = (_hand + i) % count;
                    ModelBucket candidate = _buckets[_bucketSlots[slot]];
                    Refill(candidate, capacity, rate, nowTicks);
                    if (candidate.Tokens > bestTokens)
                    {
                        (best, bestTokens) = (slot, candidate.Tokens);
                    }
                }

                _hand = (best + 1) % count;
                _buckets.Remove(_bucketSlots[best]);
                _bucketSlots[best] = key;
            }

            bucket = new ModelBucket(capacity, nowTicks);
            _buckets[key] = bucket;
            return bucket;
        }

        /// <summary>Where a key's work goes: its tracked partition, else an overflow partition still busy with it, else none yet.</summary>
        public ModelPartition? Find(string key)
        {
            if (Partitions.TryGetValue(key, out ModelPartition? partition))
            {
                return partition;
            }

            int index = (int)((uint)Bulkhead.Queuing.Internal.PartitionedWaitQueue.OverflowHash(key) % 64);
            if (_overflow[index] is { } busy && (busy.InFlight > 0 || busy.Queue.Count > 0))
            {
                return busy;
            }

            return Partitions.Count >= _maxTracked ? _overflow[index] ??= new ModelPartition($"(overflow {index})", isOverflow: true) : null;
        }

        public ModelPartition Track(string key)
        {
            if (Find(key) is { } partition)
            {
                return partition;
            }

            partition = new ModelPartition(key, isOverflow: false);
            Partitions[key] = partition;
            return partition;
        }

        public ModelPartition PartitionOf(int id) => Waiting().Single(p => p.Queue.Any(w => w.Id == id));

        /// <summary>Gets or sets the seats a unit of some weight takes in this class (set by the model).</summary>
        public Func<int, int> SeatsOf { get; set; } = static weight => weight;

        /// <summary>Whether the partition's head fits its per-partition limit.</summary>
        public bool HasRoom(ModelPartition partition) => PartitionLimit == 0 || partition.InFlight + SeatsOf(partition.Queue.Count > 0 ? partition.Queue[0].Weight : 1) <= PartitionLimit;

        /// <summary>Whether an arrival of <paramref name="seats"/> fits its partition's limit.</summary>
        public bool HasRoom(ModelPartition? partition, int seats) => PartitionLimit == 0 || partition is null || partition.InFlight + seats <= PartitionLimit;

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

        public ModelWaiter? PeekEligible() => _cursor?.Queue[0];

        /// <summary>Gets the turns an overflow partition owes.</summary>
        public int OverflowDebt(int index) => _overflow[index]?.Debt ?? 0;

        /// <summary>A new per-partition limit: ring partitions now at it are held (ring order), held ones with room rejoin (held order).</summary>
        public void Rebalance()
        {
            foreach (ModelPartition p in RingFromCursor().ToList())
            {
                if (!HasRoom(p))
                {
                    LeaveRing(p);
                    _held.Add(p);
                }
            }

            foreach (ModelPartition p in _held.ToList())
            {
                if (HasRoom(p))
                {
                    _held.Remove(p);
                    JoinRing(p);
                }
            }

            Settle();
        }

        /// <summary>The cursor passes the partitions that owe turns, each giving one up.</summary>
        private void Settle()
        {
            while (_cursor is { Debt: > 0 } owing)
            {
                owing.Debt--;
                _cursor = _ring[(_ring.IndexOf(owing) + 1) % _ring.Count];
            }
        }

        /// <summary>A partition whose head changed: out of the ring at its limit, back in with room.</summary>
        private void Recheck(ModelPartition partition)
        {
            if (_ring.Contains(partition) && !HasRoom(partition))
            {
                LeaveRing(partition);
                _held.Add(partition);
            }
            else if (_held.Contains(partition) && HasRoom(partition))
            {
                _held.Remove(partition);
                JoinRing(partition);
            }
        }

        /// <summary>A seat of a partition freed: held until now, it rejoins the ring at the end of the round.</summary>
        public void SeatFreed(ModelPartition partition)
        {
            if (_held.Contains(partition) && HasRoom(partition))
            {
                _held.Remove(partition);
                JoinRing(partition);
                Settle();
            }

            ForgetIfIdle(partition);
        }

        /// <summary>A partition joins at the end of the current round: just before the cursor.</summary>
        private void JoinRing(ModelPartition partition)
        {
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

        private void LeaveRing(ModelPartition partition)
        {
            int index = _ring.IndexOf(partition);
            if (_cursor == partition)
            {
                _cursor = _ring.Count == 1 ? null : _ring[(index + 1) % _ring.Count];
            }

            _ring.RemoveAt(index);
        }

        public string KeyOf(int id) => _keys[id];

        public void Add(string key, ModelWaiter waiter, bool lifo)
        {
            ModelPartition partition = Track(key);
            _keys[waiter.Id] = key;
            partition.Queue.Insert(lifo ? 0 : partition.Queue.Count, waiter);
            partition.SizeChangedAt = ++_sizeChanges;
            if (partition.Queue.Count == 1)
            {
                if (HasRoom(partition))
                {
                    JoinRing(partition);
                }
                else
                {
                    _held.Add(partition);
                }
            }
            else if (lifo)
            {
                Recheck(partition);
            }

            Settle();
        }

        /// <summary>Removes a waiter; a served one's partition seat is counted before (as the engine does).</summary>
        public void Remove(int id, bool served, int seats = 1)
        {
            ModelPartition partition = PartitionOf(id);
            bool inRing = _ring.Contains(partition);
            ModelPartition? next = inRing ? _ring[(_ring.IndexOf(partition) + 1) % _ring.Count] : null;
            partition.Queue.RemoveAll(w => w.Id == id);
            partition.SizeChangedAt = ++_sizeChanges;
            if (served)
            {
                partition.Debt += seats - 1;
                _cursor = next;
            }

            if (partition.Queue.Count == 0)
            {
                if (inRing)
                {
                    LeaveRing(partition);
                }
                else
                {
                    _held.Remove(partition);
                }

                ForgetIfIdle(partition);
            }
            else
            {
                Recheck(partition);
            }

            Settle();
        }

        public void ForgetIfIdle(ModelPartition partition)
        {
            if (!partition.IsOverflow && partition.Queue.Count == 0 && partition.InFlight == 0)
            {
                Partitions.Remove(partition.Key);
            }
        }
    }
}
