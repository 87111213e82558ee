using Bulkhead.Jobs.Internal;

namespace Bulkhead;

/// <summary>
/// Consumes messages under a workload class, pausing the pull rather than refusing: each message received waits for a
/// seat of the class as background work (the class's priority, no queue timeout) before the next is pulled, and is then
/// handled where the class runs work, at most <see cref="WorkloadConsumerOptions.MaxInFlight"/> at once; so the consumer
/// holds at most one message the class cannot seat yet, and a full class stops it from taking more. A message is
/// acknowledged only after its handler ends. See docs/consumers.md.
/// </summary>
public static class WorkloadConsumer
{
    /// <summary>
    /// Runs until <paramref name="stoppingToken"/> is canceled or the source has no more messages. Every message
    /// received is settled once: acknowledged when its handler ends; rejected when the handler throws; returned to the
    /// source when the consumer stopped before it was handled (it still waited for its seat, or the drain timeout
    /// passed and its handler ended canceled).
    /// </summary>
    /// <typeparam name="TMessage">The message type of the source.</typeparam>
    /// <param name="workloadClass">The class the messages are handled in.</param>
    /// <param name="source">Where the messages come from.</param>
    /// <param name="handler">Handles one message; its token is canceled when the drain timeout passes after a stop (or by the class's execution timeout).</param>
    /// <param name="options">How many messages at once, and how long a stop waits for them; the defaults when <see langword="null"/>.</param>
    /// <param name="stoppingToken">Stops pulling messages; those being handled finish (within the drain timeout).</param>
    /// <returns>A task that completes once every message received is settled.</returns>
    /// <exception cref="ArgumentException">The options are out of range.</exception>
    public static async Task RunAsync<TMessage>(
        WorkloadClass workloadClass,
        IWorkloadMessageSource<TMessage> source,
        Func<TMessage, CancellationToken, ValueTask> handler,
        WorkloadConsumerOptions? options = null,
        CancellationToken stoppingToken = default)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(workloadClass);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(handler);
        options ??= new WorkloadConsumerOptions();
        if (options.MaxInFlight < 1 || options.DrainTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException($"WorkloadConsumer for class '{workloadClass.Name}' needs MaxInFlight of at least 1 (it is {options.MaxInFlight}) and a DrainTimeout of zero or more (it is {options.DrainTimeout}).", nameof(options));
        }

        using var abort = new CancellationTokenSource();
        using CancellationTokenRegistration drain = stoppingToken.Register(
            static state =>
            {
                (CancellationTokenSource abort, TimeSpan timeout) = ((CancellationTokenSource, TimeSpan))state!;
                abort.CancelAfter(timeout);
            },
            (abort, options.DrainTimeout));
        using var slots = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        var run = new Run<TMessage>(workloadClass, source, handler, new WorkloadContext(workloadClass.Name), slots, stoppingToken, abort.Token);
        List<Task> handling = [];
        try
        {
            while (true)
            {
                await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                TMessage? message = null;
                WorkloadLease lease = default;
                try
                {
                    message = await source.ReceiveAsync(stoppingToken).ConfigureAwait(false);

                    // The next message is pulled only once this one has its seat: the consumer holds at most one
                    // message the class cannot seat yet, so what it asks its source for follows the class's free seats.
                    lease = message is null ? default : await run.TakeSeatAsync().ConfigureAwait(false);
                }
                finally
                {
                    if (!lease.IsAcquired)
                    {
                        slots.Release();
                    }
                }

                if (message is null)
                {
                    break;
                }

                if (!lease.IsAcquired)
                {
                    // Stopped (or refused for good) before it could run: it goes back, unacknowledged.
                    await source.ReturnAsync(message, CancellationToken.None).ConfigureAwait(false);
                    break;
                }

                handling.RemoveAll(static t => t.IsCompleted);
                handling.Add(run.HandleAsync(message, lease));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped while waiting for room or a message: nothing was received that is not settled below.
        }
        finally
        {
            await Task.WhenAll(handling).ConfigureAwait(false);
        }
    }

    /// <summary>What every message of one run shares.</summary>
    private sealed class Run<TMessage>(
        WorkloadClass workloadClass,
        IWorkloadMessageSource<TMessage> source,
        Func<TMessage, CancellationToken, ValueTask> handler,
        WorkloadContext context,
        SemaphoreSlim slots,
        CancellationToken stopping,
        CancellationToken abort)
        where TMessage : class
    {
        public async Task HandleAsync(TMessage message, WorkloadLease lease)
        {
            try
            {
                Exception? failure = null;
                try
                {
                    await workloadClass.ExecuteAsync(
                        lease,
                        static (state, token) =>
                        {
                            (Run<TMessage> run, TMessage message) = ((Run<TMessage>, TMessage))state!;
                            WorkloadContext.Current = run.Context;
                            return run.Handler(message, token).AsTask();
                        },
                        (this, message),
                        abort).ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    failure = exception;
                }

                // Settled once: acknowledged only after the handler ended; returned when the stop cut it short; set
                // aside when it failed, so that a message that always fails is not delivered again and again.
                if (failure is null)
                {
                    await source.AcknowledgeAsync(message, CancellationToken.None).ConfigureAwait(false);
                }
                else if (failure is OperationCanceledException && abort.IsCancellationRequested)
                {
                    await source.ReturnAsync(message, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await source.RejectAsync(message, failure, CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                slots.Release();
            }
        }

        private WorkloadContext Context => context;

        private Func<TMessage, CancellationToken, ValueTask> Handler => handler;

        /// <summary>A seat of the class, waited for as background work does, or a lease not acquired when the consumer stopped first or the class refuses for good.</summary>
        public Task<WorkloadLease> TakeSeatAsync() => SeatWaiter.WaitAsync(workloadClass, default, TimeProvider.System, onRetry: null, stopping);
    }
}
