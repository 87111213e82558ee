using Microsoft.AspNetCore.Http;

namespace Bulkhead.AspNetCore;

/// <summary>
/// Chooses a workload class for requests that neither endpoint metadata nor a configured rule classifies.
/// Register with <c>AddClassifier&lt;T&gt;()</c>; classifiers run in registration order and the first answer wins.
/// </summary>
public interface IWorkloadClassifier
{
    /// <summary>
    /// Chooses a class for a request.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>A class name, or <see langword="null"/> to leave the choice to the next classifier or the default class.</returns>
    /// <remarks>
    /// Never take a class name from client input: a client must not choose its own priority. A name that is not a
    /// configured class falls back to the default class and is counted and logged.
    /// </remarks>
    string? Classify(HttpContext context);
}
