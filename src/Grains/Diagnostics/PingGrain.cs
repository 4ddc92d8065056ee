namespace VoiceActors.Diagnostics;

/// <summary>The ceiling probe: no state, no I/O, so its call rate is the cost of the Orleans call path alone.</summary>
public sealed class PingGrain : Grain, IPingGrain
{
    ValueTask<long> IPingGrain.Ping(long value) => ValueTask.FromResult(value);
}
