namespace Bulkhead.Tests.Admission;

/// <summary>
/// The admission rules of DESIGN.md stated sequentially, with no concurrency and no optimisation: the reference the
/// model test holds the engine to.
/// </summary>
internal sealed class AdmissionModel
{
    private readonly int _pool;
    private readonly List<ModelClass[]> _groups;
    private readonly int[] _cursors;
    private readonly Dictionary<string, ModelClass> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<int, ModelClass> _classOf = [];

    public AdmissionModel(WorkloadIsolationOptions options)
    {
        foreach ((string name, WorkloadClassOptions c) in options.Classes)
        {
            _byName[name] = new ModelClass(name, c.Priority, c.ReservedConcurrency, c.MaxConcurrency ?? options.TotalConcurrency,
                c.QueueLimit, c.QueueTimeout, c.QueueOrder == WorkloadQueueOrder.Lifo);
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
        Canceled,
    }

    public IReadOnlyList<string> ClassNames { get; }

    private int SharedInUse => _byName.Values.Sum(c => Math.Max(0, c.InFlight - c.Reserved));

    public ModelClass Class(string name) => _byName[name];

    public string ClassOf(int id) => _classOf[id].Name;

    public List<(int, Outcome)> Acquire(int id, string name, bool wait, long nowTicks)
    {
        ModelClass c = _byName[name];
        _classOf[id] = c;
        bool entitledWaiter = _byName.Values.Any(w => w.Priority <= c.Priority && w.Queue.Count > 0 && w.InFlight < w.Max);
        if (c.Queue.Count == 0 && CanTake(c, allowShared: !entitledWaiter))
        {
            c.InFlight++;
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
        if (c.Queue.Count >= c.QueueLimit)
        {
            if (!c.Lifo)
            {
                return [(id, Outcome.QueueFull)];
            }

            result.Add((c.Queue[^1].Id, Outcome.QueueFull));
            c.Queue.RemoveAt(c.Queue.Count - 1);
        }

        long deadline = c.Timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : nowTicks + c.Timeout.Ticks;
        c.Queue.Insert(c.Lifo ? 0 : c.Queue.Count, (id, deadline));
        result.Add((id, Outcome.Queued));
        return result;
    }

    public List<(int, Outcome)> Release(int id)
    {
        _classOf[id].InFlight--;
        return Pump();
    }

    public List<(int, Outcome)> Cancel(int id)
    {
        ModelClass c = _classOf[id];
        int index = c.Queue.FindIndex(w => w.Id == id);
        c.Queue.RemoveAt(index);
        return [(id, Outcome.Canceled)];
    }

    public List<(int, Outcome)> Advance(long nowTicks)
    {
        List<(int, Outcome)> result = [];
        foreach (ModelClass c in _byName.Values)
        {
            foreach ((int id, long deadline) in c.Queue.Where(w => w.Deadline <= nowTicks).ToList())
            {
                c.Queue.RemoveAll(w => w.Id == id);
                result.Add((id, Outcome.QueueTimeout));
            }
        }

        return result;
    }

    private bool CanTake(ModelClass c, bool allowShared) =>
        c.InFlight < c.Max && (c.InFlight < c.Reserved || (allowShared && SharedInUse < _pool));

    /// <summary>Free seats go to waiters: priorities in order, equal priorities in turn, shared seats never past a more important waiter.</summary>
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
                    if (c.Queue.Count == 0 || !CanTake(c, !sharedBlocked))
                    {
                        continue;
                    }

                    granted.Add((c.Queue[0].Id, Outcome.Granted));
                    c.Queue.RemoveAt(0);
                    c.InFlight++;
                    _cursors[g] = (index + 1) % group.Length;
                    progress = true;
                    break;
                }
            }

            sharedBlocked |= group.Any(c => c.Queue.Count > 0 && c.InFlight < c.Max);
        }

        return granted;
    }

    internal sealed class ModelClass(string name, int priority, int reserved, int max, int queueLimit, TimeSpan timeout, bool lifo)
    {
        public string Name { get; } = name;

        public int Priority { get; } = priority;

        public int Reserved { get; } = reserved;

        public int Max { get; } = max;

        public int QueueLimit { get; } = queueLimit;

        public TimeSpan Timeout { get; } = timeout;

        public bool Lifo { get; } = lifo;

        public int InFlight { get; set; }

        /// <summary>Gets the waiters in admission order (first is admitted next).</summary>
        public List<(int Id, long Deadline)> Queue { get; } = [];
    }
}
