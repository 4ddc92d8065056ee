using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using VoiceActors.LiveKit;

namespace VoiceActors.Media.Bridge;

/// <summary>How the agent joins one LiveKit room: where, with which token (never logged), as whom, and whom to listen to.</summary>
/// <param name="Token">The token of the first join.</param>
/// <param name="CandidateIdentity">The participant whose microphone the agent hears; null: any non-agent microphone.</param>
/// <param name="MintToken">
/// Mints a fresh token for every later join (a bridge restart re-joins long after <paramref name="Token"/> was minted, maybe
/// after it expired); null: <paramref name="Token"/> is reused.
/// </param>
public sealed record AgentJoin(string Url, string Token, string Identity, string? CandidateIdentity = null, Func<string>? MintToken = null)
{
    /// <summary>The join to send now: the first one as given, every later one with a freshly minted token.</summary>
    internal AgentJoin ForRejoin(Action<Exception> mintFailed)
    {
        if (MintToken is null) return this;
        try
        {
            return this with { Token = MintToken() };
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            mintFailed(e);
            return this; // the old token may still be valid; the SFU refuses it plainly if not
        }
    }

    /// <summary>The token stays out of logs and exception messages.</summary>
    public override string ToString() => $"AgentJoin {{ Url = {Url}, Identity = {Identity}, CandidateIdentity = {CandidateIdentity} }}";
}

/// <summary>The agent's connection to its room, as the bridge reports it (STATE frames) plus the bridge's own restarts.</summary>
public enum AgentRoomState : byte
{
    Connecting = 0,
    Connected = 1,
    Reconnecting = 2,
    Disconnected = 3,
    Failed = 4,
}

/// <summary>
/// Where a room connection delivers what the room says. Called from the connection's own delivery loops (one for audio, one
/// for events), never from the pipe reader, so a slow target delays only its own session; it should still not block.
/// </summary>
public interface IAgentMediaTarget
{
    /// <summary>One 20 ms candidate frame; <see cref="AudioFrame.SentAtUtcTicks"/> is when the bridge read it off the room.</summary>
    void OnCandidateAudio(AudioFrame frame);

    void OnStateChanged(AgentRoomState state, string reason);

    /// <summary>The candidate's microphone was subscribed (or went away).</summary>
    void OnCandidateTrack(string participantIdentity, bool subscribed);
}

/// <summary>Counters of one room connection since it was created (across bridge restarts).</summary>
public readonly record struct AgentRoomCounters(long FramesSent, long FramesReceived, long FramesDroppedOut, long FramesDroppedIn, long Rejoins);

/// <summary>
/// The agent's live connection to one room. <see cref="AudioSink"/> is the session relay's sink for provider audio: an
/// in-silo object (pass it to <c>AudioRelay.Attach</c> as it is), so each frame is a queue write, not a grain call.
/// </summary>
public interface IAgentRoomConnection : IAsyncDisposable
{
    string SessionId { get; }

    /// <summary>This connection as the relay's provider-audio sink (not a grain reference: it only works inside this silo).</summary>
    IAudioSink AudioSink { get; }
    AgentRoomState State { get; }
    AgentRoomCounters Counters { get; }

    /// <summary>Queues one frame of agent audio. Never blocks; when the session's queue is full its oldest frame is dropped and counted.</summary>
    void SendAudio(AudioFrame frame);

    /// <summary>Barge-in: audio not yet played, here and in the bridge, is dropped at once.</summary>
    void Clear();
}

/// <summary>One session on the bridge. Its wire id is stable across restarts; the process under it may change.</summary>
public sealed class AgentRoomConnection : IAgentRoomConnection, IAudioSink
{
    private readonly MediaBridge _bridge;
    private readonly Channel<byte[]> _out;
    private readonly Channel<AudioFrame> _inAudio;
    private readonly Channel<(AgentRoomState? State, string Text, bool Subscribed)> _inEvents;
    private readonly Task _deliverAudio;
    private readonly Task _deliverEvents;
    private int _scheduled;
    private int _disposed;
    private long _framesSent;
    private long _framesReceived;
    private long _droppedOut;
    private long _droppedIn;
    private long _rejoins;
    private uint _sequence;
    private long _lastBridgeDropsOut;
    private long _lastBridgeDropsIn;
    private volatile int _state = (int)AgentRoomState.Connecting;

    internal AgentRoomConnection(MediaBridge bridge, uint wireId, string sessionId, AgentJoin join, IAgentMediaTarget target, int queueFrames)
    {
        _bridge = bridge;
        WireId = wireId;
        SessionId = sessionId;
        Join = join;
        Target = target;
        _out = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(queueFrames) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            dropped =>
            {
                ArrayPool<byte>.Shared.Return(dropped);
                Interlocked.Increment(ref _droppedOut);
                Interlocked.Increment(ref bridge.Metrics.DroppedSiloOut);
            });
        _inAudio = Channel.CreateBounded<AudioFrame>(new BoundedChannelOptions(queueFrames) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            _ =>
            {
                Interlocked.Increment(ref _droppedIn);
                Interlocked.Increment(ref bridge.Metrics.DroppedSiloIn);
            });
        _inEvents = Channel.CreateUnbounded<(AgentRoomState?, string, bool)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _deliverAudio = Task.Run(DeliverAudioAsync);
        _deliverEvents = Task.Run(DeliverEventsAsync);
    }

    internal uint WireId { get; }
    internal AgentJoin Join { get; private set; }

    private int _joins;

    /// <summary>The join for the next JOIN frame: as given the first time, with a fresh token on every re-join.</summary>
    internal AgentJoin NextJoin(Action<Exception> mintFailed)
    {
        if (_joins++ > 0) Join = Join.ForRejoin(mintFailed);
        return Join;
    }
    internal IAgentMediaTarget Target { get; }
    internal BridgeProcess? Process { get; set; }
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public string SessionId { get; }
    public IAudioSink AudioSink => this;
    public AgentRoomState State => (AgentRoomState)_state;

    public AgentRoomCounters Counters => new(Interlocked.Read(ref _framesSent), Interlocked.Read(ref _framesReceived),
        Interlocked.Read(ref _droppedOut), Interlocked.Read(ref _droppedIn), Interlocked.Read(ref _rejoins));

    public void SendAudio(AudioFrame frame)
    {
        if (IsDisposed) return;
        var pcm = frame.Pcm.AsSpan();
        do
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BridgeProtocol.AudioOutBytes);
            BridgeProtocol.WriteAudioOut(buffer, WireId, _sequence++, pcm);
            _out.Writer.TryWrite(buffer); // bounded DropOldest: always succeeds, the dropped frame is returned and counted
            pcm = pcm.Length > AudioFormat.FrameBytes ? pcm[AudioFormat.FrameBytes..] : default;
        }
        while (pcm.Length > 0);
        Schedule();
    }

    public void Clear()
    {
        if (IsDisposed) return;
        DrainOut();
        _bridge.SendControl(this, BridgeFrameType.Clear);
    }

    Task IAudioSink.OnProviderAudio(AudioFrame frame)
    {
        SendAudio(frame);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Each transcript line goes into the room as reliable LiveKit data on <see cref="TranscriptTopic"/>, the media socket's JSON,
    /// so the candidate's page shows it on either transport. A line while the bridge restarts is dropped (the session keeps every turn).
    /// </summary>
    Task IAudioSink.OnTranscript(Sessions.Turn turn)
    {
        if (IsDisposed) return Task.CompletedTask;
        var json = TranscriptJson(turn);
        if (!_bridge.SendData(this, TranscriptTopic, json)) Interlocked.Increment(ref _transcriptsDropped);
        else Interlocked.Increment(ref _transcriptsSent);
        return Task.CompletedTask;
    }

    /// <summary>The data topic of transcript lines (the candidate page listens on it).</summary>
    public const string TranscriptTopic = "voiceactors.transcript";

    /// <summary>Text past this many characters is cut, so a line always fits one LiveKit data message (15 KiB).</summary>
    public const int MaxTranscriptChars = 4000;

    public static byte[] TranscriptJson(Sessions.Turn turn) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        type = "transcript",
        speaker = turn.Speaker == ParticipantRole.Agent ? "agent" : "candidate",
        text = turn.Text.Length > MaxTranscriptChars ? string.Concat(turn.Text.AsSpan(0, MaxTranscriptChars), "…") : turn.Text,
        startedAt = turn.StartedAt,
        endedAt = turn.EndedAt,
    });

    private long _transcriptsSent;
    private long _transcriptsDropped;

    /// <summary>Transcript lines handed to the bridge, and those dropped because no bridge process carried the session.</summary>
    public (long Sent, long Dropped) Transcripts => (Interlocked.Read(ref _transcriptsSent), Interlocked.Read(ref _transcriptsDropped));

    /// <summary>Data packets the session's current bridge process published, and dropped, as of the last STATS.</summary>
    public long BridgeDataSent { get; internal set; }

    public long BridgeDataDropped { get; internal set; }

    /// <summary>Barge-in from the relay: everything queued is dropped here and in the bridge (AudioSource.clearQueue).</summary>
    Task IAudioSink.OnBargeIn(long lastSequence)
    {
        Clear();
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        DrainOut();
        await _bridge.LeaveAsync(this);
        _inAudio.Writer.TryComplete();
        _inEvents.Writer.TryComplete();
        await Task.WhenAll(_deliverAudio, _deliverEvents);
    }

    /// <summary>Writer side: up to <paramref name="max"/> queued frames into <paramref name="sink"/>; true when more are waiting.</summary>
    internal bool TakeOut(int max, Action<byte[]> sink)
    {
        for (var i = 0; i < max; i++)
        {
            if (!_out.Reader.TryRead(out var frame)) break;
            sink(frame);
            Interlocked.Increment(ref _framesSent);
            Interlocked.Increment(ref _bridge.Metrics.FramesOut);
        }
        Volatile.Write(ref _scheduled, 0);
        if (_out.Reader.Count == 0) return false;
        return Interlocked.Exchange(ref _scheduled, 1) == 0; // re-scheduled by the writer unless a sender already did
    }

    internal bool HasOut => _out.Reader.Count > 0;

    /// <summary>Drops everything queued (barge-in, leave, a dead process); those frames were never going to play.</summary>
    internal void DrainOut()
    {
        while (_out.Reader.TryRead(out var frame)) ArrayPool<byte>.Shared.Return(frame);
    }

    internal void Schedule()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 0) _bridge.ScheduleWrite(this);
    }

    internal void Unschedule() => Volatile.Write(ref _scheduled, 0);

    // Reader side: called on the process's pipe reader; each only queues.
    internal void OnAudioIn(uint sequence, long captureUnixMicros, ReadOnlySpan<byte> pcm)
    {
        Interlocked.Increment(ref _framesReceived);
        Interlocked.Increment(ref _bridge.Metrics.FramesIn);
        var ticks = DateTime.UnixEpoch.Ticks + captureUnixMicros * 10;
        _inAudio.Writer.TryWrite(new AudioFrame(sequence, ticks, pcm.ToArray())); // the frame's PCM is the target's to keep
    }

    internal void OnState(AgentRoomState state, string reason)
    {
        _state = (int)state;
        _inEvents.Writer.TryWrite((state, reason, false));
    }

    internal void OnTrack(string identity, bool subscribed) => _inEvents.Writer.TryWrite((null, identity, subscribed));

    internal void CountRejoin() => Interlocked.Increment(ref _rejoins);

    /// <summary>STATS of this session from its current process: adds the bridge's drops since the last report to the totals.</summary>
    internal void OnBridgeStats(long droppedOut, long droppedIn, long queuedFrames)
    {
        BridgeQueuedFrames = queuedFrames;
        var dOut = droppedOut >= _lastBridgeDropsOut ? droppedOut - _lastBridgeDropsOut : droppedOut; // a new process counts from 0
        var dIn = droppedIn >= _lastBridgeDropsIn ? droppedIn - _lastBridgeDropsIn : droppedIn;
        _lastBridgeDropsOut = droppedOut;
        _lastBridgeDropsIn = droppedIn;
        if (dOut > 0) { Interlocked.Add(ref _droppedOut, dOut); Interlocked.Add(ref _bridge.Metrics.DroppedBridgeOut, dOut); }
        if (dIn > 0) { Interlocked.Add(ref _droppedIn, dIn); Interlocked.Add(ref _bridge.Metrics.DroppedBridgeIn, dIn); }
    }

    internal void ResetBridgeStats() => _lastBridgeDropsOut = _lastBridgeDropsIn = 0;

    /// <summary>Agent frames waiting in the bridge ahead of the AudioSource, as of the last STATS.</summary>
    public long BridgeQueuedFrames { get; private set; }

    /// <summary>CLEARs (barge-ins) the session's current bridge process has carried out, as of the last STATS.</summary>
    public long BridgeClears { get; internal set; }

    private async Task DeliverAudioAsync()
    {
        await foreach (var frame in _inAudio.Reader.ReadAllAsync())
        {
            try { Target.OnCandidateAudio(frame); }
            catch (Exception e) { _bridge.OnTargetFailed(this, e); }
        }
    }

    private async Task DeliverEventsAsync()
    {
        await foreach (var (state, text, subscribed) in _inEvents.Reader.ReadAllAsync())
        {
            try
            {
                if (state is { } s) Target.OnStateChanged(s, text);
                else Target.OnCandidateTrack(text, subscribed);
            }
            catch (Exception e) { _bridge.OnTargetFailed(this, e); }
        }
    }
}
