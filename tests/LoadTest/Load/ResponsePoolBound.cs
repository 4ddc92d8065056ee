using System.Reflection;
using Orleans.Serialization.Invocation;

namespace VoiceActors.LoadTest.Load;

/// <summary>
/// Bounds Orleans' pool of call completion sources in this process. The pool keeps one stack per thread and no limit
/// (<c>MaxPoolSize</c> is <see cref="int.MaxValue"/>): a source is taken on the thread that makes a call and returned on the
/// thread that completes it. The tester's pump thread makes every audio call, so it never gets one back, and the pool threads
/// that complete the calls each keep one more for good, per frame. Measured in the 60-minute soak: 9.9 million sources, 636 MB
/// of the tester's 1.3 GB after 35 minutes at 10,000 frames/s, and the tester's own collections of that heap stalled the
/// audio it measures. The pool is internal: reached by reflection, and <c>ResponsePoolBoundTests</c> fail if Orleans moves it.
/// </summary>
public static class ResponsePoolBound
{
    /// <summary>Kept per thread: far more than one thread reuses; past it a returned source is left to the collector.</summary>
    public const int PerThread = 4096;

    /// <summary>Sets the bound; false when this Orleans has no such pool (the tester then warns: its heap grows 64 B per frame).</summary>
    public static bool Apply(int perThread = PerThread)
    {
        if (Property() is not { } p) return false;
        p.Property.SetValue(p.Pool, perThread);
        return true;
    }

    /// <summary>The pool's bound now, null when it cannot be found.</summary>
    public static int? Current() => Property() is { } p ? (int?)p.Property.GetValue(p.Pool) : null;

    private static (object Pool, PropertyInfo Property)? Property()
    {
        var pool = typeof(ResponseCompletionSourcePool)
            .GetField("UntypedPool", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(null);
        var property = pool?.GetType().GetProperty("MaxPoolSize", BindingFlags.Instance | BindingFlags.Public);
        return pool is not null && property is { CanWrite: true, PropertyType: var t } && t == typeof(int) ? (pool, property) : null;
    }
}
