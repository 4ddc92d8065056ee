namespace VoiceActors.Diagnostics;

/// <summary>
/// A diagnostics grain that does nothing but answer: the load tester drives it at full speed to measure what the
/// Orleans call path itself can carry on a machine (the ceiling the audio path is compared against).
/// </summary>
[Alias("va.IPingGrain")]
public interface IPingGrain : IGrainWithIntegerKey
{
    /// <summary>Returns <paramref name="value"/> unchanged.</summary>
    [Alias("Ping")]
    ValueTask<long> Ping(long value);
}
