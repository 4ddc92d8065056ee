namespace VoiceActors.Regions;

/// <summary>Base of the region and capacity errors; each maps to one HTTP status at the gateway.</summary>
[GenerateSerializer, Alias("va.RegionException")]
public abstract class RegionException : Exception
{
    protected RegionException(string region, string message) : base(message) => Region = region;

    [Id(0)] public string Region { get; }
}

/// <summary>No configured region has that name.</summary>
[GenerateSerializer, Alias("va.UnknownRegionException")]
public sealed class UnknownRegionException(string region, IReadOnlyList<string> known)
    : RegionException(region, $"Region '{region}' is not configured; known regions: {string.Join(", ", known)}.")
{
    [Id(0)] public IReadOnlyList<string> Known { get; } = known;
}

/// <summary>The region (and every fallback) is full: the create is refused, not accepted and then starved. Maps to 429 + Retry-After.</summary>
[GenerateSerializer, Alias("va.RegionCapacityExceededException")]
public sealed class RegionCapacityExceededException(string region, int activeSessions, int capacity, int retryAfterSeconds)
    : RegionException(region, $"Region '{region}' is at capacity ({activeSessions} of {capacity} sessions); retry in {retryAfterSeconds}s.")
{
    [Id(0)] public int ActiveSessions { get; } = activeSessions;
    [Id(1)] public int Capacity { get; } = capacity;
    [Id(2)] public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>No region is healthy: nothing can be admitted. Maps to 503 + Retry-After.</summary>
[GenerateSerializer, Alias("va.NoHealthyRegionException")]
public sealed class NoHealthyRegionException(int retryAfterSeconds)
    : RegionException("", $"No region is healthy; retry in {retryAfterSeconds}s.")
{
    [Id(0)] public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>An operator tried to mark down the last healthy region: refused, because every live session would have nowhere to go.</summary>
[GenerateSerializer, Alias("va.LastHealthyRegionException")]
public sealed class LastHealthyRegionException(string region)
    : RegionException(region, $"Region '{region}' is the last healthy region; marking it down would leave no region to serve or fail over to. Mark another region up first.");

