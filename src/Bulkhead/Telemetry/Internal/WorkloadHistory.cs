using System.Text.Json;
using Bulkhead.Adaptive.Internal;
using Bulkhead.Admission.Internal;
using Bulkhead.Timing.Internal;

namespace Bulkhead.Telemetry.Internal;

/// <summary>
/// The last 15 minutes of every class, kept in the process so that a dashboard opened during an incident shows what led
/// to it: every 5 seconds, the admissions and rejections per second over the interval, the seats and queue in use, and
/// the 99th percentiles of queue wait (work admitted at once counts as no wait) and of seat-holding time (one lease in
/// <see cref="WorkloadIsolationMetrics.SeatDurationSampling"/> is timed). Off until started: starting it makes every class
/// measure those durations.
/// </summary>
internal sealed class WorkloadHistory : IDisposable
{
    /// <summary>How often a sample is taken.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>How much history is kept.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private const double Percentile = 0.99;

    private static readonly int s_length = (int)(Window / Interval);

    private static readonly TimerCallback s_onInterval = static state =>
    {
        var history = (WorkloadHistory)state!;
        try
        {
            history.Sample();
        }
        catch (Exception exception)
        {
            history._scheduler.Engine.TimerFaults.Report("history", exception);
        }
    };

    private readonly WorkloadScheduler _scheduler;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Track> _tracks = new(StringComparer.OrdinalIgnoreCase);
    private List<string> _order = [];
    private long _lastTimestamp;
    private ITimer? _timer;
    private bool _disposed;

    public WorkloadHistory(WorkloadScheduler scheduler) => _scheduler = scheduler;

    private TimeProvider Time => _scheduler.Engine.TimeProvider;

    /// <summary>Starts keeping the history, once; what was admitted before counts from now.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_timer is not null || _disposed)
            {
                return;
            }

            _scheduler.Engine.KeepHistory();
            Sample();

            // On a thread of its own, so that samples go on while the ThreadPool is starved (an incident the history
            // must show), and without the context of whoever started it.
            _timer = UnflowedTimer.Create(() => TimerThread.Create(Time, s_onInterval, this, Interval, Interval, "Bulkhead history"));
        }
    }

    /// <summary>Takes a sample now: what happened since the last one, per second, and the percentiles of the durations measured.</summary>
    public void Sample()
    {
        WorkloadSnapshot snapshot = _scheduler.GetSnapshot();
        lock (_gate)
        {
            long now = Time.GetTimestamp();
            double seconds = _lastTimestamp == 0 ? 0 : Time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
            _lastTimestamp = now;
            long at = Time.GetUtcNow().ToUnixTimeMilliseconds();
            List<string> order = [];
            foreach (WorkloadClassSnapshot c in snapshot.Classes)
            {
                if (c.IsDraining || !_scheduler.TryResolve(c.Name, out ClassState? state))
                {
                    continue;
                }

                order.Add(c.Name);
                if (!_tracks.TryGetValue(c.Name, out Track? track))
                {
                    track = new Track();
                    _tracks.Add(c.Name, track);
                }

                track.Add(state, c, seconds, at);
            }

            // A class gone for longer than the window has nothing left to show.
            foreach ((string name, Track track) in _tracks.Where(pair => !order.Contains(pair.Key, StringComparer.OrdinalIgnoreCase)).ToList())
            {
                if (track.Samples.Count == 0 || at - track.Samples.Last().At > Window.TotalMilliseconds)
                {
                    _tracks.Remove(name);
                }
            }

            _order = order;
        }
    }

    /// <summary>Writes the history as JSON: the classes in force, most important first, each with its samples, oldest first.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        lock (_gate)
        {
            writer.WriteStartObject();
            writer.WriteNumber("intervalSeconds", Interval.TotalSeconds);
            writer.WriteNumber("windowSeconds", Window.TotalSeconds);
            writer.WriteBoolean("started", _timer is not null);
            writer.WriteStartArray("classes");
            foreach (string name in _order)
            {
                writer.WriteStartObject();
                writer.WriteString("name", name);
                writer.WriteStartArray("samples");
                foreach (Point sample in _tracks[name].Samples)
                {
                    sample.WriteTo(writer);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    /// <summary>One sample of a class (a point of its charts): per second over the interval before <see cref="At"/> (Unix milliseconds), and the state at its end.</summary>
    private readonly record struct Point(long At, double AdmittedPerSecond, double RejectedPerSecond, int InFlight, int Queued, int MaxConcurrency, TimeSpan? QueueWaitP99, TimeSpan? SeatTimeP99)
    {
        public void WriteTo(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            writer.WriteNumber("at", At);
            writer.WriteNumber("admittedPerSecond", Math.Round(AdmittedPerSecond, 2));
            writer.WriteNumber("rejectedPerSecond", Math.Round(RejectedPerSecond, 2));
            writer.WriteNumber("inFlight", InFlight);
            writer.WriteNumber("queued", Queued);
            writer.WriteNumber("maxConcurrency", MaxConcurrency);
            WriteMilliseconds(writer, "queueWaitP99Ms", QueueWaitP99);
            WriteMilliseconds(writer, "seatTimeP99Ms", SeatTimeP99);
            writer.WriteEndObject();
        }

        private static void WriteMilliseconds(Utf8JsonWriter writer, string name, TimeSpan? value)
        {
            if (value is { } duration)
            {
                writer.WriteNumber(name, Math.Round(duration.TotalMilliseconds, 3));
            }
            else
            {
                writer.WriteNull(name);
            }
        }
    }

    /// <summary>A class's samples, and where the last one left its counts and histograms.</summary>
    private sealed class Track
    {
        private ClassState? _state;
        private long _admitted;
        private long _rejected;
        private long[] _queueBefore = new long[LatencyHistogram.BucketCount];
        private long[] _queueNow = new long[LatencyHistogram.BucketCount];
        private long[] _seatBefore = new long[LatencyHistogram.BucketCount];
        private long[] _seatNow = new long[LatencyHistogram.BucketCount];

        public Queue<Point> Samples { get; } = new();

        public void Add(ClassState state, WorkloadClassSnapshot c, double seconds, long at)
        {
            Copy(state.QueueWaits, _queueNow);
            Copy(state.SeatTimes, _seatNow);
            if (_state == state && seconds > 0)
            {
                long admitted = c.Admitted - _admitted;
                long waited = LatencyHistogram.Count(_queueNow, _queueBefore);
                TimeSpan? queueWait = LatencyHistogram.Quantile(_queueNow, _queueBefore, Math.Max(0, admitted - waited), Percentile);
                TimeSpan? seatTime = LatencyHistogram.Quantile(_seatNow, _seatBefore, 0, Percentile);
                Samples.Enqueue(new Point(at, admitted / seconds, (c.Rejected - _rejected) / seconds, c.InFlight, c.Queued, c.MaxConcurrency, queueWait, seatTime));
                if (Samples.Count > s_length)
                {
                    Samples.Dequeue();
                }
            }

            // The class as it is now is where the next interval starts (a class removed and added back starts over).
            _state = state;
            _admitted = c.Admitted;
            _rejected = c.Rejected;
            (_queueBefore, _queueNow) = (_queueNow, _queueBefore);
            (_seatBefore, _seatNow) = (_seatNow, _seatBefore);
        }

        private static void Copy(LatencyHistogram? histogram, long[] target)
        {
            if (histogram is null)
            {
                Array.Clear(target);
            }
            else
            {
                histogram.CopyTo(target);
            }
        }
    }
}
