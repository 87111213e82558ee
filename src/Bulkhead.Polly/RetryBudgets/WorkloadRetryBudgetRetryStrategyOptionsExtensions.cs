using Bulkhead.Polly;
using Polly.Retry;

namespace Polly;

/// <summary>Puts a Polly retry strategy under a <see cref="WorkloadRetryBudget"/>.</summary>
public static class WorkloadRetryBudgetRetryStrategyOptionsExtensions
{
    /// <summary>
    /// Makes the strategy's retries spend <paramref name="budget"/>: every operation's first attempt counts as a call,
    /// and an outcome the strategy would retry (its <c>ShouldHandle</c>, as it is when this is called) is retried only
    /// while the budget has a retry; otherwise the outcome is returned as it is. The last attempt spends nothing.
    /// </summary>
    /// <typeparam name="TResult">The result type of the strategy.</typeparam>
    /// <param name="options">The retry strategy's options (Microsoft.Extensions.Http.Resilience's <c>Retry</c> options among them).</param>
    /// <param name="budget">The budget of the dependency the strategy calls.</param>
    /// <returns>The options, for chaining.</returns>
    public static RetryStrategyOptions<TResult> WithRetryBudget<TResult>(this RetryStrategyOptions<TResult> options, WorkloadRetryBudget budget)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(budget);
        Func<RetryPredicateArguments<TResult>, ValueTask<bool>> shouldHandle = options.ShouldHandle;
        options.ShouldHandle = async args =>
        {
            if (args.AttemptNumber == 0)
            {
                budget.RecordCall();
            }

            if (!await shouldHandle(args).ConfigureAwait(args.Context.ContinueOnCapturedContext))
            {
                return false;
            }

            // No retry follows the last attempt or a canceled operation: the strategy returns the outcome either way.
            bool retryFollows = args.AttemptNumber < options.MaxRetryAttempts && !args.Context.CancellationToken.IsCancellationRequested;
            return !retryFollows || budget.TryRetry();
        };
        return options;
    }
}
