namespace VoiceActors.Sessions;

/// <summary>
/// Where the candidate connects: the session's LiveKit URL and room, and after a region failover the reconnect directive
/// (the backup region's URL and a freshly minted candidate token). Read by the candidate page with its own room token.
/// </summary>
[GenerateSerializer, Immutable, Alias("va.CandidateConnection")]
public sealed record CandidateConnection(
    [property: Id(0)] SessionStatus Status,
    [property: Id(1)] string? LiveKitUrl,
    [property: Id(2)] string Room,
    [property: Id(3)] Regions.ReconnectDirective? Reconnect);
