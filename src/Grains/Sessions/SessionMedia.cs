using VoiceActors.Media;

namespace VoiceActors.Sessions;

/// <summary>
/// A session's media on this silo: the audio relay to the voice provider and the sink its audio and transcript go to.
/// The relay starts on first use (a sink attaching, a first frame, a resume) and stops at the end or on deactivation; the sink
/// travels with the activation when it migrates. It holds no session state and never ends the session.
/// Where the agent joins the LiveKit room: <see cref="Start"/> (first use, re-activation, after a migration) and
/// <see cref="StopAsync"/> (the end, deactivation) are the points the silo's agent media bridge plugs into.
/// </summary>
internal sealed class SessionMedia(string sessionId, AudioRelayFactory relays)
{
    private const string SinkMigrationKey = "va.sink";

    private IAudioSink? _sink;

    /// <summary>The running relay, if any: read on the hot path, so a field, not a lookup.</summary>
    public AudioRelay? Relay { get; private set; }

    public MediaStats? Stats => Relay?.Stats;

    /// <summary>Starts the relay (once), resuming with the provider and conversation the session checkpointed.</summary>
    public AudioRelay Start(ProviderSettings provider, string? activeProvider, IReadOnlyList<Turn> conversation, ISessionMediaEvents events)
    {
        if (Relay is not null) return Relay;
        Relay = relays.Create(sessionId, provider, activeProvider, conversation, events);
        Relay.Attach(_sink);
        Relay.Start();
        return Relay;
    }

    public async Task StopAsync()
    {
        if (Relay is not { } relay) return;
        Relay = null;
        await relay.DisposeAsync();
    }

    /// <summary>The newest sink wins: a reconnecting client replaces its old socket.</summary>
    public void Attach(IAudioSink sink)
    {
        _sink = sink;
        Relay?.Attach(sink);
    }

    /// <summary>Detaches <paramref name="sink"/> unless a newer one replaced it (an old socket leaving after its replacement attached).</summary>
    public void Detach(IAudioSink sink)
    {
        if (!Equals(_sink, sink)) return;
        _sink = null;
        Relay?.Attach(null);
    }

    /// <summary>Fire and forget: a slow or gone client must not hold up the session's checkpoint.</summary>
    public void Transcript(Turn turn) => _ = _sink?.OnTranscript(turn);

    /// <summary>The media socket keeps receiving after the move.</summary>
    public void Dehydrate(IDehydrationContext context)
    {
        if (_sink is not null) context.TryAddValue(SinkMigrationKey, _sink);
    }

    public void Rehydrate(IRehydrationContext context)
    {
        if (context.TryGetValue<IAudioSink>(SinkMigrationKey, out var sink)) _sink = sink;
    }
}
