using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using VoiceActors.Regions;

namespace VoiceActors.Sessions;

/// <summary>Admission limit of one silo (<c>Silo:MaxConcurrentSessions</c>).</summary>
public sealed class SiloCapacityOptions
{
    public const string Section = "Silo";

    /// <summary>Live sessions this silo accepts; voice is I/O-bound, so this, not CPU, is the scaling signal.</summary>
    public int MaxConcurrentSessions { get; set; } = 2000;

    /// <summary>The region this silo serves.</summary>
    public string Region { get; set; } = SiloRegion.Default;
}

public sealed class SiloCapacityOptionsValidator : IValidateOptions<SiloCapacityOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloCapacityOptions o)
    {
        if (o.MaxConcurrentSessions < 1)
            return ValidateOptionsResult.Fail($"Silo:MaxConcurrentSessions must be at least 1 (got {o.MaxConcurrentSessions}): a silo that admits nothing should not be started.");
        if (string.IsNullOrWhiteSpace(o.Region))
            return ValidateOptionsResult.Fail("Silo:Region must name the region this silo serves.");
        return ValidateOptionsResult.Success;
    }
}

/// <summary>
/// The live sessions activated on this silo, kept by the session grains themselves. It is the per-silo source of the
/// autoscaling signals (active sessions, utilization, rooms still waiting for an agent), of placement decisions, and of
/// region failover (which needs each session's own region: a silo may host sessions of another region). Each id entering or
/// leaving the set is also told to the <see cref="ILiveSessionRegistry"/>, so survivors know what to wake if this silo dies.
/// </summary>
public sealed class SiloSessionLoad(IOptions<SiloCapacityOptions> options, ILiveSessionRegistry? registry = null)
{
    private readonly ConcurrentDictionary<string, LiveSession> _live = new(StringComparer.Ordinal);
    private int _count; // ConcurrentDictionary.Count takes every bucket lock, and placement and admission read this on each create

    public int Capacity => options.Value.MaxConcurrentSessions;
    public string Region => options.Value.Region;
    public int ActiveSessions => Volatile.Read(ref _count);

    public int RoomsWithoutAgent
    {
        get
        {
            var n = 0;
            foreach (var entry in _live) if (entry.Value.WaitingForAgent) n++;
            return n;
        }
    }

    /// <summary>0–100: the autoscaler's target signal.</summary>
    public double Utilization => Capacity == 0 ? 100 : 100.0 * ActiveSessions / Capacity;

    /// <summary>Called by a session grain whenever its liveness, agent presence or region may have changed.</summary>
    /// <remarks>One session's calls come from its one activation, one at a time, so add-then-overwrite cannot race with its own removal.</remarks>
    public void Update(string sessionId, SessionStatus status, bool hasAgent, string region)
    {
        if (!status.IsLive())
        {
            Remove(sessionId);
            return;
        }
        var session = new LiveSession(!hasAgent, region);
        if (_live.TryAdd(sessionId, session))
        {
            Interlocked.Increment(ref _count);
            registry?.Added(sessionId); // once per session per silo, not on every update
        }
        else _live[sessionId] = session;
    }

    public void Remove(string sessionId)
    {
        if (!_live.TryRemove(sessionId, out _)) return;
        Interlocked.Decrement(ref _count);
        registry?.Removed(sessionId);
    }

    /// <summary>The ids of the live sessions on this silo right now (drain walks them).</summary>
    public string[] LiveSessionIds() => [.. _live.Keys];

    /// <summary>The live sessions on this silo whose own region is <paramref name="region"/> (region failover walks them).</summary>
    public string[] LiveSessionIdsOf(string region)
    {
        var ids = new List<string>();
        foreach (var (id, session) in _live) if (session.Region == region) ids.Add(id);
        return [.. ids];
    }

    /// <summary>The distinct regions of the live sessions on this silo.</summary>
    public HashSet<string> LiveSessionRegions()
    {
        var regions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in _live) regions.Add(entry.Value.Region);
        return regions;
    }

    private readonly record struct LiveSession(bool WaitingForAgent, string Region);
}
