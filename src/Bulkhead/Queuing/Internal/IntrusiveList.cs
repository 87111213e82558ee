namespace Bulkhead.Queuing.Internal;

/// <summary>A node's two links in one intrusive list; a node in several lists has one pair per list.</summary>
/// <typeparam name="T">The node.</typeparam>
internal struct ListLinks<T>
    where T : class
{
    public T? Previous;

    public T? Next;
}

/// <summary>Which links of its nodes a list threads through: one small type per list a node can be in.</summary>
/// <typeparam name="T">The node.</typeparam>
internal interface IListLinks<T>
    where T : class
{
    /// <summary>The node's links in this list.</summary>
    /// <param name="node">The node.</param>
    /// <returns>A reference to them, in the node.</returns>
    static abstract ref ListLinks<T> Of(T node);
}

/// <summary>
/// A doubly linked list threaded through its nodes, so that adding a node and taking one from the middle are constant
/// time and allocate nothing: the waiters of a queue, waiters in the order they fall due, partitions by number of
/// waiters, idle partitions. Not thread-safe: the admission engine's lock guards every list. A mutable struct, kept in a
/// field (never copied) of its owner.
/// </summary>
/// <typeparam name="T">The node.</typeparam>
/// <typeparam name="TLinks">Which links of the node this list uses.</typeparam>
internal struct IntrusiveList<T, TLinks>
    where T : class
    where TLinks : IListLinks<T>
{
    private T? _first;
    private T? _last;

    public readonly T? First => _first;

    public readonly T? Last => _last;

    /// <summary>The node after <paramref name="node"/> in this list, or <see langword="null"/>.</summary>
    public static T? NextOf(T node) => TLinks.Of(node).Next;

    /// <summary>The node before <paramref name="node"/> in this list, or <see langword="null"/>.</summary>
    public static T? PreviousOf(T node) => TLinks.Of(node).Previous;

    public void AddLast(T node) => InsertAfter(_last, node);

    public void AddFirst(T node) => InsertAfter(null, node);

    /// <summary>Inserts <paramref name="node"/> right after <paramref name="after"/>, or first when it is <see langword="null"/>.</summary>
    public void InsertAfter(T? after, T node)
    {
        ref ListLinks<T> links = ref TLinks.Of(node);
        links.Previous = after;
        links.Next = after is null ? _first : TLinks.Of(after).Next;
        if (links.Next is { } next)
        {
            TLinks.Of(next).Previous = node;
        }
        else
        {
            _last = node;
        }

        if (after is null)
        {
            _first = node;
        }
        else
        {
            TLinks.Of(after).Next = node;
        }
    }

    /// <summary>Takes a node of this list out of it, wherever it is.</summary>
    public void Remove(T node)
    {
        ref ListLinks<T> links = ref TLinks.Of(node);
        if (links.Previous is { } previous)
        {
            TLinks.Of(previous).Next = links.Next;
        }
        else
        {
            _first = links.Next;
        }

        if (links.Next is { } next)
        {
            TLinks.Of(next).Previous = links.Previous;
        }
        else
        {
            _last = links.Previous;
        }

        links = default;
    }
}
