using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.Media.Bridge;

/// <summary>A snapshot of one bridge process, for operators and tests.</summary>
public sealed record BridgeProcessInfo(int Pid, int Generation, int Sessions, int SessionsEver, long RssBytes, long CpuMicros, long GarbageRuns, bool Draining);

/// <summary>
/// The silo's agent media bridge: Node processes on the official <c>@livekit/rtc-node</c>, started as children (they exit
/// when their stdin closes, so none outlives the silo), each carrying up to <see cref="MediaBridgeOptions.MaxSessionsPerProcess"/>
/// sessions. A process that dies is replaced after a backoff and every session it carried joins again; a process past its
/// session or memory bound takes no new sessions and is retired when its last one leaves.
/// </summary>
public sealed partial class MediaBridge : IHostedService, IAsyncDisposable
{
    private readonly MediaBridgeOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<MediaBridge> _logger;
    private readonly object _gate = new();
    private readonly List<BridgeProcess> _processes = [];
    private readonly ConcurrentDictionary<uint, AgentRoomConnection> _connections = new();
    private readonly List<AgentRoomConnection> _pending = [];
    private readonly List<Task> _retiring = [];
    private BridgeLaunch? _launch;
    private string _unavailable = "not started";
    private uint _nextWireId;
    private int _generation;
    private int _consecutiveCrashes;
    private long _backoffUntil;
    private bool _restartScheduled;
    private bool _stopping;
    private long _lastUnknownReport;

    public MediaBridge(IOptions<MediaBridgeOptions> options, TimeProvider clock, ILogger<MediaBridge> logger, IMeterFactory meters)
    {
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        Metrics = new MediaBridgeMetrics(meters, Load);
    }

    public MediaBridgeMetrics Metrics { get; }

    /// <summary>False when Node or the bridge script is missing (or the bridge is disabled): the media socket still serves.</summary>
    public bool IsAvailable => _launch is not null && !_stopping;

    public string? UnavailableReason => IsAvailable ? null : _unavailable;

    public IReadOnlyList<BridgeProcessInfo> Processes
    {
        get
        {
            lock (_gate)
            {
                var list = new List<BridgeProcessInfo>(_processes.Count);
                foreach (var p in _processes) list.Add(new(p.Pid, p.Generation, p.Sessions, p.SessionsEver, p.RssBytes, p.CpuMicros, p.GarbageRuns, p.Draining));
                return list;
            }
        }
    }

    public int SessionCount => _connections.Count;

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            _unavailable = "disabled by MediaBridge:Enabled";
            LogUnavailable(_unavailable);
            return Task.CompletedTask;
        }
        var launch = BridgeLocator.Resolve(_options, AppContext.BaseDirectory, out var why);
        if (launch is null)
        {
            _unavailable = why;
            LogUnavailable(why);
            return Task.CompletedTask;
        }
        _launch = launch;
        LogReady(launch.NodePath, launch.ScriptPath, _options.MaxSessionsPerProcess, _options.SourceQueueMilliseconds);
        return Task.CompletedTask;
    }

    async Task IHostedService.StopAsync(CancellationToken cancellationToken) => await StopAllAsync();

    public async ValueTask DisposeAsync() => await StopAllAsync();

    /// <summary>
    /// Joins <paramref name="join"/>'s room as the agent for <paramref name="sessionId"/>. Returns at once; the join's progress
    /// arrives as <see cref="IAgentMediaTarget.OnStateChanged"/>. Throws when the bridge is unavailable (check <see cref="IsAvailable"/>).
    /// </summary>
    public IAgentRoomConnection Join(string sessionId, AgentJoin join, IAgentMediaTarget target)
    {
        if (!IsAvailable) throw new InvalidOperationException($"The media bridge is unavailable: {_unavailable}");
        var id = Interlocked.Increment(ref _nextWireId);
        var connection = new AgentRoomConnection(this, id, sessionId, join, target, _options.SiloQueueFrames);
        _connections[id] = connection;
        lock (_gate) PlaceLocked(connection);
        return connection;
    }

    // --- placement and supervision (under _gate) ---

    private void PlaceLocked(AgentRoomConnection connection)
    {
        if (_stopping || connection.IsDisposed) return;
        var process = ChooseLocked();
        if (process is null)
        {
            if (!_pending.Contains(connection)) _pending.Add(connection);
            ScheduleRestartLocked();
            return;
        }
        _pending.Remove(connection);
        connection.Process = process;
        connection.ResetBridgeStats();
        process.Sessions++;
        process.SessionsEver++;
        if (process.SessionsEver >= _options.RecycleAfterSessions) MarkDrainingLocked(process, $"{process.SessionsEver} sessions joined");
        var join = connection.NextJoin(e => LogMintFailed(connection.SessionId, e.GetType().Name));
        var buffer = ArrayPool<byte>.Shared.Rent(BridgeProtocol.JoinBytes(join, connection.SessionId));
        var n = BridgeProtocol.WriteJoin(buffer, connection.WireId, join, connection.SessionId, _options.SourceQueueMilliseconds, _options.AutoSubscribe);
        process.EnqueueControl(buffer, n);
        connection.Unschedule();
        if (connection.HasOut) connection.Schedule(); // audio that waited for the (re)join follows it
    }

    /// <summary>The first process with room; a new one if none has room and no restart backoff is running.</summary>
    private BridgeProcess? ChooseLocked()
    {
        foreach (var p in _processes)
            if (!p.Draining && !p.Retiring && p.Sessions < _options.MaxSessionsPerProcess) return p;
        if (_clock.GetTimestamp() < Interlocked.Read(ref _backoffUntil)) return null;
        try
        {
            var process = BridgeProcess.Start(this, _launch!, _options, ++_generation, _logger);
            _processes.Add(process);
            LogStarted(process.Pid, process.Generation, _processes.Count);
            _ = WatchAsync(process);
            return process;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            LogStartFailed(_launch!.NodePath, e);
            BackOffLocked();
            return null;
        }
    }

    private async Task WatchAsync(BridgeProcess process)
    {
        var started = _clock.GetTimestamp();
        await process.Exited;
        lock (_gate)
        {
            _processes.Remove(process);
            if (process.Retiring || _stopping)
            {
                LogRetired(process.Pid, process.SessionsEver);
                return;
            }
            Interlocked.Increment(ref Metrics.Restarts);
            if (_clock.GetElapsedTime(started) >= _options.RestartBackoffReset) _consecutiveCrashes = 0;
            var carried = 0;
            foreach (var c in _connections.Values)
            {
                if (c.Process != process) continue;
                c.Process = null;
                c.DrainOut();
                c.CountRejoin();
                c.OnState(AgentRoomState.Reconnecting, "media bridge process exited; joining again");
                _pending.Add(c);
                carried++;
            }
            LogCrashed(process.Pid, process.ExitCode, carried);
            BackOffLocked();
            ScheduleRestartLocked();
        }
    }

    private void BackOffLocked()
    {
        _consecutiveCrashes++;
        var delay = TimeSpan.FromTicks(Math.Min(_options.RestartBackoffMax.Ticks,
            _options.RestartBackoffInitial.Ticks * (1L << Math.Min(20, _consecutiveCrashes - 1))));
        Interlocked.Exchange(ref _backoffUntil, _clock.GetTimestamp() + (long)(delay.TotalSeconds * _clock.TimestampFrequency));
    }

    private void ScheduleRestartLocked()
    {
        if (_restartScheduled || _pending.Count == 0) return;
        _restartScheduled = true;
        var wait = Interlocked.Read(ref _backoffUntil) - _clock.GetTimestamp();
        var delay = wait > 0 ? TimeSpan.FromSeconds(wait / (double)_clock.TimestampFrequency) : TimeSpan.Zero;
        _ = Task.Run(async () =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay, _clock);
            lock (_gate)
            {
                _restartScheduled = false;
                foreach (var c in _pending.ToArray()) PlaceLocked(c); // places on fresh processes, or re-schedules itself
            }
        });
    }

    private void MarkDrainingLocked(BridgeProcess process, string why)
    {
        if (process.Draining) return;
        process.Draining = true;
        Interlocked.Increment(ref Metrics.Recycled);
        LogDraining(process.Pid, why);
        if (process.Sessions == 0) RetireLocked(process);
    }

    private void RetireLocked(BridgeProcess process)
    {
        process.Retiring = true;
        _retiring.Add(process.StopAsync(_options.StopGrace, _clock));
    }

    // --- called by connections ---

    internal void ScheduleWrite(AgentRoomConnection connection) => connection.Process?.Enqueue(connection);

    internal void SendControl(AgentRoomConnection connection, BridgeFrameType type)
    {
        var process = connection.Process;
        if (process is null) return;
        var buffer = ArrayPool<byte>.Shared.Rent(BridgeProtocol.HeaderBytes);
        process.EnqueueControl(buffer, BridgeProtocol.WriteEmpty(buffer, type, connection.WireId));
    }

    /// <summary>One DATA frame on the control path; false when the session has no process right now (between restarts).</summary>
    internal bool SendData(AgentRoomConnection connection, string topic, ReadOnlySpan<byte> payload)
    {
        var process = connection.Process;
        if (process is null) return false;
        var buffer = ArrayPool<byte>.Shared.Rent(BridgeProtocol.DataBytes(topic, payload.Length));
        process.EnqueueControl(buffer, BridgeProtocol.WriteData(buffer, connection.WireId, topic, payload, reliable: true));
        return true;
    }

    internal Task LeaveAsync(AgentRoomConnection connection)
    {
        _connections.TryRemove(connection.WireId, out _);
        lock (_gate)
        {
            _pending.Remove(connection);
            var process = connection.Process;
            if (process is null) return Task.CompletedTask;
            SendControl(connection, BridgeFrameType.Leave);
            connection.Process = null;
            process.Sessions--;
            if (process.Draining && process.Sessions == 0 && !process.Retiring) RetireLocked(process);
        }
        return Task.CompletedTask;
    }

    internal void OnTargetFailed(AgentRoomConnection connection, Exception e) => LogTargetFailed(connection.SessionId, e);

    // --- called by the processes' readers ---

    internal void Dispatch(BridgeProcess process, BridgeFrameType type, uint wireId, ReadOnlySpan<byte> payload)
    {
        if (!_connections.TryGetValue(wireId, out var c) || c.Process != process)
        {
            // frames of a session that just left or moved: normal during LEAVE and restarts
            if (type is BridgeFrameType.Error && BridgeProtocol.TryReadError(payload, out var code, out var message)) OnBridgeError(process, wireId, code, message);
            return;
        }
        switch (type)
        {
            case BridgeFrameType.AudioIn:
                if (BridgeProtocol.TryReadAudioIn(payload, out var seq, out var micros, out var pcm)) c.OnAudioIn(seq, micros, pcm);
                break;
            case BridgeFrameType.State:
                if (!BridgeProtocol.TryReadState(payload, out var state, out var reason)) { CountGarbage(); break; }
                if (state is AgentRoomState.Failed or AgentRoomState.Disconnected) LogRoomState(c.SessionId, state, reason);
                c.OnState(state, reason);
                break;
            case BridgeFrameType.Track:
                if (BridgeProtocol.TryReadTrack(payload, out var subscribed, out var identity, out _)) c.OnTrack(identity, subscribed);
                else CountGarbage();
                break;
            case BridgeFrameType.Stats:
                c.OnBridgeStats((long)BridgeProtocol.StatAt(payload, 3), (long)BridgeProtocol.StatAt(payload, 5), (long)BridgeProtocol.StatAt(payload, 2));
                c.BridgeClears = (long)BridgeProtocol.StatAt(payload, 7);
                c.BridgeDataSent = (long)BridgeProtocol.StatAt(payload, 8);
                c.BridgeDataDropped = (long)BridgeProtocol.StatAt(payload, 9);
                break;
            case BridgeFrameType.Error:
                if (BridgeProtocol.TryReadError(payload, out var code, out var message)) OnBridgeError(process, wireId, code, message);
                break;
            default:
                CountGarbage(); // a down frame type coming up: not from our bridge
                break;
        }
    }

    internal void OnProcessStats(BridgeProcess process)
    {
        if (process.Draining || process.RssBytes < _options.RecycleRssMegabytes * 1024L * 1024L) return;
        lock (_gate) MarkDrainingLocked(process, $"resident memory {process.RssBytes / (1024 * 1024)} MB");
    }

    internal void OnBridgeError(BridgeProcess process, uint wireId, int code, string message)
    {
        if (code is 1 or 2) Interlocked.Increment(ref Metrics.Garbage); // the bridge saw garbage coming down
        // at most one warning a second per silo: a storm of errors is counted, not logged frame by frame
        var now = _clock.GetTimestamp();
        var last = Interlocked.Read(ref _lastUnknownReport);
        if (last != 0 && _clock.GetElapsedTime(last, now) < TimeSpan.FromSeconds(1)) return;
        if (Interlocked.CompareExchange(ref _lastUnknownReport, now, last) != last) return;
        LogBridgeError(process.Pid, wireId, code, message);
    }

    internal void OnGarbage(BridgeProcess process, int skippedBytes, string reason)
    {
        CountGarbage();
        OnBridgeError(process, 0, 0, $"garbage from the bridge ({reason}): skipped {skippedBytes} bytes");
    }

    private void CountGarbage() => Interlocked.Increment(ref Metrics.Garbage);

    private (int, int, long) Load()
    {
        lock (_gate)
        {
            long rss = 0;
            foreach (var p in _processes) rss += p.RssBytes;
            return (_processes.Count, _connections.Count, rss);
        }
    }

    private async Task StopAllAsync()
    {
        Task[] stopping;
        lock (_gate)
        {
            if (_stopping) stopping = [.. _retiring];
            else
            {
                _stopping = true;
                foreach (var p in _processes) _retiring.Add(p.StopAsync(_options.StopGrace, _clock));
                stopping = [.. _retiring];
            }
        }
        await Task.WhenAll(stopping);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media bridge unavailable: {Reason}. LiveKit agent audio is off; the media socket still serves")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media bridge ready: {Node} {Script}, {MaxSessions} sessions per process, AudioSource queue {QueueMs} ms")]
    private partial void LogReady(string node, string script, int maxSessions, int queueMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media bridge process {Pid} started (generation {Generation}, {Count} running)")]
    private partial void LogStarted(int pid, int generation, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media bridge could not start {Node}")]
    private partial void LogStartFailed(string node, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Media bridge process {Pid} exited with {ExitCode}; {Sessions} sessions join again after a backoff")]
    private partial void LogCrashed(int pid, int exitCode, int sessions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media bridge process {Pid} retired after {Sessions} sessions")]
    private partial void LogRetired(int pid, int sessions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Media bridge process {Pid} drains (no new sessions): {Why}")]
    private partial void LogDraining(int pid, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media bridge process {Pid}, session #{WireId}: error {Code}: {Message}")]
    private partial void LogBridgeError(int pid, uint wireId, int code, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session {SessionId}: agent room {State}: {Reason}")]
    private partial void LogRoomState(string sessionId, AgentRoomState state, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: no fresh agent token for the re-join ({Error}); the previous one is used")]
    private partial void LogMintFailed(string sessionId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: the media target threw")]
    private partial void LogTargetFailed(string sessionId, Exception exception);
}
