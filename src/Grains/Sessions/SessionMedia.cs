using VoiceActors.Media;
using VoiceActors.Media.Bridge;
using Orleans.Storage;
using VoiceActors.Recording;

namespace VoiceActors.Sessions;

/// <summary>
/// A session's media on this silo: the audio relay to the voice provider, the attached client sink (media socket, load tester),
/// and the agent's connection to the LiveKit room through this silo's media bridge. Provider audio goes to both the sink and
/// the room. The relay starts on first use and stops at the end or on deactivation; the sink travels with the activation when
/// it migrates, the room connection does not (the new silo joins with the same identity and LiveKit evicts the stale agent).
/// The sink is also written down (<see cref="SessionSinkStore"/>, beside the session's state), so a survivor resuming the session
/// after a crash sends its audio straight to the client instead of waiting for the client to notice and attach again.
/// It holds no session state and never ends the session.
/// </summary>
internal sealed class SessionMedia(string sessionId, AudioRelayFactory relays, MediaBridge bridge, SessionRecorders recorders,
    SessionSinkStore sinks)
{
    private const string SinkMigrationKey = "va.sink";

    private IAudioSink? _sink;
    private IAgentRoomConnection? _agent;
    private SessionRecorder? _recorder;

    /// <summary>The running relay, if any: read on the hot path, so a field, not a lookup.</summary>
    public AudioRelay? Relay { get; private set; }

    public MediaStats? Stats => Relay?.Stats;

    /// <summary>
    /// Nothing in flight that moving the session would cut: no relay, or its provider is between turns. A move then costs the
    /// candidate no audio: the new silo's provider connects while the candidate has not started the next utterance.
    /// </summary>
    public bool AtTurnBoundary => Relay is not { } relay || relay.AtTurnBoundary;

    /// <summary>Whether this silo can put the agent in a room at all (Node and the bridge script are there).</summary>
    public bool CanJoinRooms => bridge.IsAvailable;

    /// <summary>The agent is in the room, or on its way (the bridge re-joins by itself after its own restarts).</summary>
    public bool InRoom => _agent is { State: not (AgentRoomState.Failed or AgentRoomState.Disconnected) };

    /// <summary>Starts the relay (once), resuming with the provider and conversation the session checkpointed.</summary>
    /// <param name="recording">Where to record to, with consent only; a resumed session continues the same recording.</param>
    /// <param name="afterOutage">The session resumed after its silo was lost: the provider answers at once (see <see cref="ProviderLink"/>).</param>
    public AudioRelay Start(ProviderSettings provider, string? activeProvider, Providers.Conversation conversation, ISessionMediaEvents events,
        RecordingTarget? recording = null, bool afterOutage = false)
    {
        if (Relay is not null) return Relay;
        Relay = relays.Create(sessionId, provider, activeProvider, conversation, events, afterOutage);
        Relay.Attach(Outbound());
        if (recording is not null) Relay.Record(_recorder = recorders.Start(recording));
        Relay.Start();
        return Relay;
    }

    public async Task StopAsync()
    {
        await LeaveRoomAsync();
        if (Relay is not { } relay) return;
        Relay = null;
        await relay.DisposeAsync();
        if (_recorder is not { } recorder) return;
        _recorder = null;
        await recorder.DisposeAsync(); // the last chunk and the manifest, bounded by Recordings:FlushTimeout
    }

    /// <summary>Joins the room as the agent through this silo's bridge; a connection that failed or dropped is replaced.</summary>
    public async Task JoinRoomAsync(AgentJoin join, IAgentMediaTarget target)
    {
        if (InRoom || !bridge.IsAvailable) return;
        await LeaveRoomAsync();
        _agent = bridge.Join(sessionId, join, target);
        Relay?.Attach(Outbound());
    }

    public async Task LeaveRoomAsync()
    {
        if (_agent is not { } agent) return;
        _agent = null;
        Relay?.Attach(Outbound());
        await agent.DisposeAsync();
    }

    /// <summary>The newest sink wins: a reconnecting client replaces its old socket. Written down once per sink, not per call.</summary>
    public async Task AttachAsync(IAudioSink sink)
    {
        _sink = sink;
        Relay?.Attach(Outbound());
        await sinks.SaveAsync(sink);
    }

    /// <summary>Detaches <paramref name="sink"/> unless a newer one replaced it (an old socket leaving after its replacement attached).</summary>
    public async Task DetachAsync(IAudioSink sink)
    {
        if (!Equals(_sink, sink)) return;
        _sink = null;
        Relay?.Attach(Outbound());
        await ForgetSinkAsync();
    }

    /// <summary>
    /// After a crash: the sink the client attached on the lost silo gets the resumed session's audio. A client that went away
    /// meanwhile costs nothing (provider audio to it is one-way), and one that attaches again first wins. Not awaited by the
    /// activation (its read is not on the resume's path); a failed read leaves it to the client's own re-attach.
    /// </summary>
    public async Task RestoreSinkAsync()
    {
        try
        {
            if (await sinks.LoadAsync() is not { } sink || _sink is not null) return;
            _sink = sink;
            Relay?.Attach(Outbound());
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // storage unreachable: the client notices its failed pushes and attaches again
        }
    }

    /// <summary>The session ended or its client left: no survivor should send to that sink.</summary>
    public Task ForgetSinkAsync() => sinks.SaveAsync(null);

    /// <summary>Fire and forget: a slow or gone client must not hold up the session's checkpoint.</summary>
    public void Transcript(Turn turn)
    {
        _ = _sink?.OnTranscript(turn);
        _ = _agent?.AudioSink.OnTranscript(turn);
    }

    /// <summary>The media socket keeps receiving after the move.</summary>
    public void Dehydrate(IDehydrationContext context)
    {
        if (_sink is not null) context.TryAddValue(SinkMigrationKey, _sink);
    }

    public void Rehydrate(IRehydrationContext context)
    {
        if (context.TryGetValue<IAudioSink>(SinkMigrationKey, out var sink)) _sink = sink;
    }

    /// <summary>Where the relay sends provider audio: computed when a transport comes or goes, so a frame pays no lookup.</summary>
    private IAudioSink? Outbound() => (_sink, _agent?.AudioSink) switch
    {
        ({ } client, { } room) => new BothSinks(client, room),
        (var client, var room) => client ?? room,
    };

    /// <summary>A client on the media socket and the agent in the room at once (a page on the socket while the agent joins).</summary>
    private sealed class BothSinks(IAudioSink client, IAudioSink room) : IAudioSink
    {
        public Task OnProviderAudio(AudioFrame frame)
        {
            _ = room.OnProviderAudio(frame); // in-silo queue write first: it cannot throw for a vanished observer
            return client.OnProviderAudio(frame);
        }

        public Task OnTranscript(Turn turn)
        {
            _ = room.OnTranscript(turn);
            return client.OnTranscript(turn);
        }

        public Task OnBargeIn(long lastSequence)
        {
            _ = room.OnBargeIn(lastSequence);
            return client.OnBargeIn(lastSequence);
        }
    }
}

/// <summary>Where a session's provider audio goes, kept beside its state (not in it) so a survivor can resume sending after a crash.</summary>
[GenerateSerializer, Alias("va.SessionMediaLink")]
public sealed class SessionMediaLink
{
    [Id(0)] public IAudioSink? Sink { get; set; }
}

/// <summary>
/// The session's <see cref="SessionMediaLink"/> in the sessions storage (state name <see cref="StorageNames.MediaLink"/>), read only
/// when needed (a resume after a crash, or before the first write) so an activation pays nothing for it; written once per sink.
/// Used on the grain's turn only.
/// </summary>
internal sealed class SessionSinkStore(IGrainStorage storage, GrainId grain)
{
    private readonly GrainState<SessionMediaLink> _state = new(new SessionMediaLink());
    private Task? _loaded;

    public async Task<IAudioSink?> LoadAsync()
    {
        await (_loaded ??= storage.ReadStateAsync(StorageNames.MediaLink, grain, _state));
        return _state.State?.Sink;
    }

    /// <summary>Writes <paramref name="sink"/> (null clears the record) unless it is what the store already holds.</summary>
    public async Task SaveAsync(IAudioSink? sink)
    {
        if (Equals(await LoadAsync(), sink)) return;
        if (sink is null)
        {
            await storage.ClearStateAsync(StorageNames.MediaLink, grain, _state);
            _state.State = new SessionMediaLink();
            return;
        }
        _state.State ??= new SessionMediaLink();
        _state.State.Sink = sink;
        await storage.WriteStateAsync(StorageNames.MediaLink, grain, _state);
    }
}
