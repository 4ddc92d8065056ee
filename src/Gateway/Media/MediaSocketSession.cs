using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Media;

/// <summary>
/// One candidate media socket. In: binary messages of exactly one 20 ms PCM16 frame, rate-limited to real time plus a burst,
/// stamped on arrival and pushed to the session grain in order. Out: the grain's provider audio (as this socket's
/// <see cref="IAudioSink"/>) through a bounded queue that drops its oldest frame when the client falls behind, and transcript
/// turns as JSON text messages.
/// </summary>
public sealed partial class MediaSocketSession : IAudioSink
{
    private static readonly Counter<long> Dropped = new Meter(VoiceActors.Telemetry.TelemetryNames.VoiceMeter).CreateCounter<long>(
        "voice_media_socket_frames_dropped", description: "Media socket frames dropped at the gateway (label reason: rate_limited, invalid, client_backlog, barge_in).");

    /// <summary>Every <c>reason</c> a media socket drops a frame for; exported at 0 from start-up, as the grains' drop reasons are.</summary>
    internal static readonly string[] DropReasons = ["rate_limited", "invalid", "client_backlog", "barge_in"];

    /// <summary>Called once the host has started, so the metrics listener is there to see the zeros whatever the registration order.</summary>
    internal static void ExportDropsAtZero()
    {
        foreach (var reason in DropReasons) Dropped.Add(0, new KeyValuePair<string, object?>("reason", reason));
    }

    private readonly string _sessionId;
    private readonly string _identity;
    private readonly ParticipantRole _role;
    private readonly WebSocket _socket;
    private readonly IGrainFactory _grains;
    private readonly MediaSocketOptions _options;
    private readonly LiveKitStandIn? _standIn;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly Channel<AudioFrame> _audioOut;
    private readonly Channel<string> _textOut;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly AudioRateLimiter _limiter;
    private readonly CancellationTokenSource _closing = new();
    private long _framesReceived;
    private long _framesRateLimited;
    private long _messagesInvalid;
    private long _framesSent;
    private long _framesDroppedForClient;
    private long _sendingSince; // timestamp of the send in progress, 0 between sends: the stuck-client check reads it
    private readonly SortedList<long, AudioFrame> _reorder = new(ReorderWindow + 1);
    private long _nextSequence;
    private long _dropThrough; // a barge-in cut agent audio up to this sequence: queued frames up to it are not sent
    private long _bargeIns;
    private long _framesCutByBargeIn;

    /// <summary>Tells the page to stop the agent audio it has scheduled (the candidate talked over it).</summary>
    internal const string BargeInMessage = "{\"type\":\"barge_in\"}";

    /// <summary>Frames held back waiting for a late one (4 = 80 ms) before the gap is given up on.</summary>
    private const int ReorderWindow = 4;

    public MediaSocketSession(string sessionId, string identity, ParticipantRole role, WebSocket socket, IGrainFactory grains,
        MediaSocketOptions options, LiveKitStandIn? standIn, TimeProvider clock, ILogger logger)
    {
        _clock = clock;
        _sessionId = sessionId;
        _identity = identity;
        _role = role;
        _socket = socket;
        _grains = grains;
        _options = options;
        _standIn = standIn;
        _logger = logger;
        _audioOut = Channel.CreateBounded<AudioFrame>(
            new BoundedChannelOptions(options.ClientQueueFrames) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => OnClientBacklogDrop());
        _textOut = Channel.CreateBounded<string>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _limiter = new AudioRateLimiter(AudioFormat.BytesPerSecond, AudioFormat.BytesPerSecond * options.BurstMilliseconds / 1000.0, clock);
    }

    public string SessionId => _sessionId;
    public string Identity => _identity;
    public MediaSocketCounters Counters => new(Interlocked.Read(ref _framesReceived), Interlocked.Read(ref _framesRateLimited),
        Interlocked.Read(ref _messagesInvalid), Interlocked.Read(ref _framesSent), Interlocked.Read(ref _framesDroppedForClient), _audioOut.Reader.Count,
        Interlocked.Read(ref _bargeIns), Interlocked.Read(ref _framesCutByBargeIn));

    /// <summary>Server-side kill (operators, tests): the socket is aborted as if the network dropped.</summary>
    public void Abort()
    {
        _closing.Cancel();
        _socket.Abort();
    }

    public async Task RunAsync(CancellationToken requestAborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _closing.Token);
        var grain = _grains.GetGrain<ISessionMediaGrain>(_sessionId);
        var self = _grains.CreateObjectReference<IAudioSink>(this);
        try
        {
            await grain.AttachMedia(self);
            await SimulatePresenceAsync(joined: true);
        }
        catch (SessionException e)
        {
            await CloseAsync(e is SessionNotFoundException ? (WebSocketCloseStatus)4404 : WebSocketCloseStatus.PolicyViolation, e.Message);
            _grains.DeleteObjectReference<IAudioSink>(self);
            return;
        }
        LogConnected(_sessionId, _identity);
        var sending = Task.Run(() => SendLoopAsync(linked.Token));
        try
        {
            await ReceiveLoopAsync(grain, linked.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // the client went away or the socket was aborted: the page reconnects with backoff
        }
        finally
        {
            linked.Cancel();
            _audioOut.Writer.TryComplete();
            _textOut.Writer.TryComplete();
            _wake.Writer.TryComplete();
            try { await sending; } catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
            try
            {
                await grain.DetachMedia(self);
                await SimulatePresenceAsync(joined: false);
            }
            catch (SessionException)
            {
                // the session ended meanwhile; nothing to detach from
            }
            _grains.DeleteObjectReference<IAudioSink>(self);
            var c = Counters;
            LogDisconnected(_sessionId, _identity, c.FramesReceived, c.FramesSent, c.FramesRateLimited + c.MessagesInvalid + c.FramesDroppedForClient);
        }
    }

    private async Task ReceiveLoopAsync(ISessionMediaGrain grain, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(AudioFormat.FrameBytes * 2);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var length = 0;
                var tooLong = false;
                ValueWebSocketReceiveResult result;
                do
                {
                    var space = buffer.AsMemory(length < buffer.Length ? length : 0);
                    result = await _socket.ReceiveAsync(space, ct);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await CloseAsync(WebSocketCloseStatus.NormalClosure, "bye");
                        return;
                    }
                    if (length + result.Count > buffer.Length) tooLong = true; // keep draining the message, keep nothing of it
                    else length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType != WebSocketMessageType.Binary || tooLong || length != AudioFormat.FrameBytes)
                {
                    if (!await RejectAsync(result.MessageType != WebSocketMessageType.Binary
                            ? "binary messages only: each one 20 ms of PCM16 mono at 24 kHz"
                            : $"a frame is exactly {AudioFormat.FrameBytes} bytes (20 ms of PCM16 mono at 24 kHz)", ct)) return;
                    continue;
                }
                Interlocked.Increment(ref _framesReceived);
                if (!_limiter.TryTake(length))
                {
                    Interlocked.Increment(ref _framesRateLimited);
                    Dropped.Add(1, new KeyValuePair<string, object?>("reason", "rate_limited"));
                    continue;
                }
                // The frame travels on to the provider, so it needs its own array; the receive buffer is pooled.
                var frame = new AudioFrame(_framesReceived, _clock.GetUtcNow().UtcTicks, buffer.AsSpan(0, length).ToArray());
                await grain.PushCandidateAudio(frame);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>On embedded defaults this socket is the candidate's presence in the room; the stand-in turns it into signed webhooks.</summary>
    private Task SimulatePresenceAsync(bool joined) =>
        _standIn is null || _role != ParticipantRole.Candidate
            ? Task.CompletedTask
            : _standIn.SimulateParticipantAsync(SessionIds.RoomName(_sessionId), _identity, _role, joined);

    /// <summary>Answers a malformed message with an error; false once the client has sent too many and was closed.</summary>
    private async Task<bool> RejectAsync(string detail, CancellationToken ct)
    {
        var n = Interlocked.Increment(ref _messagesInvalid);
        Dropped.Add(1, new KeyValuePair<string, object?>("reason", "invalid"));
        if (n >= _options.MaxInvalidMessages)
        {
            await CloseAsync(WebSocketCloseStatus.PolicyViolation, "too many malformed messages");
            return false;
        }
        SendText(JsonSerializer.Serialize(new { type = "error", code = "invalid_frame", detail }));
        return !ct.IsCancellationRequested;
    }

    /// <summary>
    /// Sole writer of the socket: text first (rare), then audio in order. Both wake it through a one-slot signal that takes no
    /// place in the audio queue. No token on the wait (a cancelable wait allocates per frame): RunAsync completes the signal.
    /// </summary>
    private async Task SendLoopAsync(CancellationToken ct)
    {
        // A stuck client is found by a periodic look at the send in progress, not by a timer armed for every frame.
        var period = _options.ClientSendTimeout / 4;
        using var stuck = _clock.CreateTimer(static s => ((MediaSocketSession)s!).AbortIfStuck(), this, period, period);
        var audio = _audioOut.Reader;
        while (await _wake.Reader.WaitToReadAsync())
        {
            _wake.Reader.TryRead(out _);
            while (!ct.IsCancellationRequested)
            {
                while (_textOut.Reader.TryRead(out var message))
                    await SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, ct);
                if (!audio.TryRead(out var frame)) break;
                if (frame.Sequence <= Volatile.Read(ref _dropThrough))
                {
                    OnCutByBargeIn();
                    continue;
                }
                await SendAsync(frame.Pcm, WebSocketMessageType.Binary, ct);
                Interlocked.Increment(ref _framesSent);
            }
        }
    }

    private void SendText(string message)
    {
        _textOut.Writer.TryWrite(message);
        _wake.Writer.TryWrite(true); // already signalled: dropped, which is the point
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // a send that waits for the client allocates nothing either
    private async ValueTask SendAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type, CancellationToken ct)
    {
        Volatile.Write(ref _sendingSince, _clock.GetTimestamp());
        try
        {
            await _socket.SendAsync(payload, type, true, ct);
        }
        finally
        {
            Volatile.Write(ref _sendingSince, 0);
        }
    }

    /// <summary>Every quarter of the send timeout: a send in progress for longer than the timeout means the client is gone.</summary>
    private void AbortIfStuck()
    {
        var since = Volatile.Read(ref _sendingSince);
        if (since == 0 || _closing.IsCancellationRequested || _clock.GetElapsedTime(since) < _options.ClientSendTimeout) return;
        LogClientStuck(_sessionId, _identity, _options.ClientSendTimeout.TotalSeconds);
        Abort(); // a client that reads nothing for this long is gone; the page reconnects if it is not
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(status, reason, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or OperationCanceledException)
        {
        }
    }

    private void OnClientBacklogDrop()
    {
        Interlocked.Increment(ref _framesDroppedForClient);
        Dropped.Add(1, new KeyValuePair<string, object?>("reason", "client_backlog"));
    }

    /// <summary>Restores the session's sequence order (one-way calls may overtake each other) within a small window.</summary>
    Task IAudioSink.OnProviderAudio(AudioFrame frame)
    {
        lock (_reorder)
        {
            if (_nextSequence == 0 || frame.Sequence == _nextSequence || frame.Sequence + 100 < _nextSequence)
            {
                if (frame.Sequence + 100 < _nextSequence) Volatile.Write(ref _dropThrough, 0); // a new stream: its own numbers
                Release(frame); // in order, the first frame, or a new stream (the session was re-activated)
            }
            else if (frame.Sequence <= Volatile.Read(ref _dropThrough))
            {
                OnCutByBargeIn(); // overtaken by the barge-in that cut it
                return Task.CompletedTask;
            }
            else if (frame.Sequence < _nextSequence)
            {
                OnClientBacklogDrop(); // later than the window: its moment has passed
                return Task.CompletedTask;
            }
            else
            {
                _reorder[frame.Sequence] = frame;
                if (_reorder.Count > ReorderWindow) Release(_reorder.Values[0]); // give up on the gap
            }
            while (_reorder.Count > 0 && _reorder.Keys[0] <= _nextSequence)
            {
                var next = _reorder.Values[0];
                _reorder.RemoveAt(0);
                if (next.Sequence == _nextSequence) Release(next);
            }
        }
        return Task.CompletedTask;
    }

    private void Release(AudioFrame frame)
    {
        _reorder.Remove(frame.Sequence);
        _nextSequence = frame.Sequence + 1;
        _audioOut.Writer.TryWrite(frame);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>
    /// Barge-in: agent audio up to <paramref name="lastSequence"/> is dropped wherever it is here (queued for the client,
    /// held for reordering, or still on its way), and the page is told to stop what it has scheduled. No allocation.
    /// </summary>
    Task IAudioSink.OnBargeIn(long lastSequence)
    {
        Interlocked.Increment(ref _bargeIns);
        lock (_reorder)
        {
            if (lastSequence > Volatile.Read(ref _dropThrough)) Volatile.Write(ref _dropThrough, lastSequence);
            while (_reorder.Count > 0 && _reorder.Keys[0] <= lastSequence)
            {
                _reorder.RemoveAt(0);
                OnCutByBargeIn();
            }
            if (_nextSequence <= lastSequence) _nextSequence = lastSequence + 1;
            while (_reorder.Count > 0 && _reorder.Keys[0] == _nextSequence) Release(_reorder.Values[0]);
        }
        SendText(BargeInMessage); // text goes before any audio: the page stops before the next answer arrives
        return Task.CompletedTask;
    }

    private void OnCutByBargeIn()
    {
        Interlocked.Increment(ref _framesCutByBargeIn);
        Dropped.Add(1, new KeyValuePair<string, object?>("reason", "barge_in"));
    }

    Task IAudioSink.OnTranscript(Turn turn)
    {
        SendText(JsonSerializer.Serialize(new
        {
            type = "transcript",
            speaker = turn.Speaker == ParticipantRole.Agent ? "agent" : "candidate",
            text = turn.Text,
            startedAt = turn.StartedAt,
            endedAt = turn.EndedAt,
        }));
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Media socket of {SessionId} opened by {Identity}")]
    private partial void LogConnected(string sessionId, string identity);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media socket of {SessionId} ({Identity}) closed: {FramesIn} frames in, {FramesOut} out, {Dropped} dropped")]
    private partial void LogDisconnected(string sessionId, string identity, long framesIn, long framesOut, long dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media socket of {SessionId} ({Identity}) accepted nothing for {Seconds} s: aborted")]
    private partial void LogClientStuck(string sessionId, string identity, double seconds);
}

public readonly record struct MediaSocketCounters(
    long FramesReceived, long FramesRateLimited, long MessagesInvalid, long FramesSent, long FramesDroppedForClient, int QueuedForClient,
    long BargeIns = 0, long FramesCutByBargeIn = 0);

/// <summary>The media sockets open on this process, by session (an operator's view, and the tests' handle to kill one).</summary>
public sealed class MediaSockets
{
    private readonly ConcurrentDictionary<MediaSocketSession, byte> _open = new();

    public void Add(MediaSocketSession socket) => _open.TryAdd(socket, 0);

    public void Remove(MediaSocketSession socket) => _open.TryRemove(socket, out _);

    public IReadOnlyList<MediaSocketSession> Of(string sessionId)
    {
        var result = new List<MediaSocketSession>();
        foreach (var socket in _open.Keys)
            if (socket.SessionId == sessionId) result.Add(socket);
        return result;
    }

    /// <summary>Aborts every socket of a session (they reconnect); returns how many there were.</summary>
    public int Abort(string sessionId)
    {
        var sockets = Of(sessionId);
        foreach (var s in sockets) s.Abort();
        return sockets.Count;
    }
}
