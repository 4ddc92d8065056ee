namespace VoiceActors.Regions;

// Sent, never stored, but for ReconnectDirective: the records here take implicit ids (the rule: OrleansCodeGeneration.cs).

/// <summary>Why a region is (not) taking sessions: an operator's word wins over the probes.</summary>
[GenerateSerializer, Alias("va.RegionHealthMode")]
public enum RegionHealthMode
{
    /// <summary>No operator override: the periodic probes decide.</summary>
    Auto = 0,
    Up = 1,
    Down = 2,
}

/// <summary>One region as the directory sees it. Credentials never leave the silo: only the public LiveKit URL is here.</summary>
[GenerateSerializer, Immutable, Alias("va.RegionInfo")]
public sealed record RegionInfo(
    string Name,
    bool Healthy,
    RegionHealthMode Override,
    string HealthReason,
    IReadOnlyList<string> Fallback,
    string? LiveKitUrl,
    bool Primary,
    IReadOnlyList<string> Tenants,
    DateTimeOffset? CheckedAt);

/// <summary>Every configured region, in configuration order (the order breaks ties).</summary>
[GenerateSerializer, Immutable, Alias("va.RegionDirectoryView")]
public sealed record RegionDirectoryView(IReadOnlyList<RegionInfo> Regions, DateTimeOffset At)
{
    public RegionInfo? Find(string name)
    {
        foreach (var r in Regions) if (string.Equals(r.Name, name, StringComparison.Ordinal)) return r;
        return null;
    }
}

/// <summary>What one silo reports about itself every report period (from <c>SiloSessionLoad</c>, the one count).</summary>
[GenerateSerializer, Immutable, Alias("va.SiloLoadReport")]
public sealed record SiloLoadReport(
    string Silo, string Region, int ActiveSessions, int Capacity, int RoomsWithoutAgent, bool Draining, DateTimeOffset At)
{
    public double Utilization => Capacity <= 0 ? 100 : 100.0 * ActiveSessions / Capacity;
}

/// <summary>A region's load: the sum of its silos' latest reports. Draining silos count their sessions but no capacity.</summary>
[GenerateSerializer, Immutable, Alias("va.RegionCapacity")]
public sealed record RegionCapacity(
    string Region, IReadOnlyList<SiloLoadReport> Silos, int ActiveSessions, int Capacity, int RoomsWithoutAgent, DateTimeOffset At)
{
    public double Utilization => Capacity <= 0 ? 100 : Math.Min(100, 100.0 * ActiveSessions / Capacity);
    public int Headroom => Math.Max(0, Capacity - ActiveSessions);

    public static RegionCapacity Empty(string region, DateTimeOffset at) => new(region, [], 0, 0, 0, at);
}

/// <summary>A create request's input to region selection: the caller's tenant and its measured round-trip times.</summary>
[GenerateSerializer, Immutable, Alias("va.AdmissionRequest")]
public sealed record AdmissionRequest(string TenantId, IReadOnlyDictionary<string, double>? RegionPings);

/// <summary>The region a new interview goes to, and why (returned to the caller as <c>regionReason</c>).</summary>
[GenerateSerializer, Immutable, Alias("va.RegionAdmission")]
public sealed record RegionAdmission(string Region, string Reason, string? LiveKitUrl);

/// <summary>Tells one session to leave a region that went down for <see cref="ToRegion"/>.</summary>
[GenerateSerializer, Immutable, Alias("va.RegionFailover")]
public sealed record RegionFailover(string FromRegion, string ToRegion, string? LiveKitUrl, string Reason);

// Stored in InterviewSessionState: explicit ids (the rule: OrleansCodeGeneration.cs).
/// <summary>Published by a session whose region went down: where the clients reconnect. Clients read it from GET /v1/interviews/{id}.</summary>
[GenerateSerializer, Immutable, Alias("va.ReconnectDirective")]
public sealed record ReconnectDirective(
    [property: Id(0)] string Region,
    [property: Id(1)] string? LiveKitUrl,
    [property: Id(2)] string Room,
    [property: Id(3)] string? CandidateToken,
    [property: Id(4)] DateTimeOffset IssuedAt,
    [property: Id(5)] string Reason,
    [property: Id(6)] string FromRegion);
