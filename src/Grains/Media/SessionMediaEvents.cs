using VoiceActors.Sessions;

namespace VoiceActors.Media;

/// <summary>
/// How a session's relay, running off the grain's scheduler, hands results back to its grain: as ordinary grain calls,
/// so state changes stay single-threaded and checkpointed. Implemented by the session grain; nobody else calls it.
/// </summary>
[Alias("va.ISessionMediaEvents")]
public interface ISessionMediaEvents : IGrainWithStringKey
{
    /// <summary>A finished utterance from the provider's transcription: appended to the session's turns and checkpointed.</summary>
    [Alias("OnProviderTurn")]
    Task OnProviderTurn(Turn turn);

    /// <summary>A provider connected, failed, failed over, or the path saw a latency spike: goes to the timeline.</summary>
    [Alias("OnProviderEvent")]
    Task OnProviderEvent(ProviderEvent e);

    /// <summary>The agent's room connection (this silo's media bridge) changed state: connected, reconnecting, dropped, failed.</summary>
    [Alias("OnAgentRoom")]
    Task OnAgentRoom(string state, string reason);
}

[GenerateSerializer, Immutable, Alias("va.ProviderEvent")]
public sealed record ProviderEvent(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Provider,
    [property: Id(2)] string Detail);
