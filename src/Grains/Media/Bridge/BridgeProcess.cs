using System.Buffers;
using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace VoiceActors.Media.Bridge;

/// <summary>
/// One Node bridge process and its pipe. One writer loop drains a FIFO of control frames and sessions with queued audio
/// (a session writes a few frames per turn, so a flooding session cannot starve the others); one reader loop parses frames
/// and hands each to its session's queues. Neither ever waits on a session.
/// </summary>
internal sealed partial class BridgeProcess : IBridgeFrameHandler
{
    private const int FramesPerTurn = 4;
    private const int BatchBytes = 64 * 1024;

    private readonly MediaBridge _bridge;
    private readonly ILogger _logger;
    private readonly Process _process;
    private readonly Channel<object> _work = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly BridgeFrameReader _reader;
    private readonly CancellationTokenSource _stop = new();
    private byte[] _batch = ArrayPool<byte>.Shared.Rent(BatchBytes);
    private int _batchLength;
    private long _rssBytes;
    private long _cpuMicros;
    private long _garbageRuns;

    private BridgeProcess(MediaBridge bridge, Process process, int generation, ILogger logger)
    {
        _bridge = bridge;
        _process = process;
        _logger = logger;
        Generation = generation;
        Pid = process.Id;
        _reader = new BridgeFrameReader(this);
        Exited = Task.WhenAll(Task.Run(ReadLoopAsync), Task.Run(LogLoopAsync)).ContinueWith(_ => process.WaitForExitAsync(), TaskScheduler.Default).Unwrap();
        _ = Task.Run(WriteLoopAsync);
    }

    public int Pid { get; }
    public int Generation { get; }

    /// <summary>Completes when the process is gone and its pipes are drained.</summary>
    public Task Exited { get; }

    public int ExitCode => _process.HasExited ? _process.ExitCode : -1;
    public long RssBytes => Interlocked.Read(ref _rssBytes);
    public long CpuMicros => Interlocked.Read(ref _cpuMicros);
    public long GarbageRuns => Interlocked.Read(ref _garbageRuns);

    /// <summary>Sessions placed on this process, live now.</summary>
    public int Sessions;

    /// <summary>Sessions ever placed on this process (for recycling).</summary>
    public int SessionsEver;

    /// <summary>No new sessions: it is retired when its last session leaves.</summary>
    public volatile bool Draining;

    /// <summary>Stopped on purpose (retired or the silo is stopping): its exit is not a crash.</summary>
    public volatile bool Retiring;

    public static BridgeProcess Start(MediaBridge bridge, BridgeLaunch launch, MediaBridgeOptions options, int generation, ILogger logger)
    {
        var info = new ProcessStartInfo(launch.NodePath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(launch.ScriptPath)!,
        };
        info.ArgumentList.Add(launch.ScriptPath);
        info.Environment["NODE_ENV"] = "production"; // rtc-node's logger at info, not debug
        info.Environment["BRIDGE_STATS_MS"] = ((int)options.StatsInterval.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["BRIDGE_OUT_QUEUE_FRAMES"] = options.BridgeOutQueueFrames.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["BRIDGE_IN_QUEUE_FRAMES"] = options.BridgeInQueueFrames.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["BRIDGE_SOURCE_QUEUE_MS"] = options.SourceQueueMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (options.FakeRooms) info.Environment["BRIDGE_FAKE_ROOMS"] = "1";
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{launch.NodePath} did not start");
        return new BridgeProcess(bridge, process, generation, logger);
    }

    public void Enqueue(AgentRoomConnection connection) => _work.Writer.TryWrite(connection);

    /// <summary>A control frame (JOIN, LEAVE, CLEAR, PING), in order with the audio around it.</summary>
    public void EnqueueControl(byte[] pooled, int length) => _work.Writer.TryWrite(new Control(pooled, length));

    /// <summary>Closes stdin: the bridge leaves its rooms and exits; killed if it has not after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace, TimeProvider clock)
    {
        Retiring = true;
        _work.Writer.TryComplete();
        try
        {
            await Exited.WaitAsync(grace, clock);
        }
        catch (TimeoutException)
        {
            LogKilled(Pid, grace);
            Kill();
            await Exited;
        }
    }

    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already gone */ }
    }

    private async Task WriteLoopAsync()
    {
        var stdin = _process.StandardInput.BaseStream;
        try
        {
            while (await _work.Reader.WaitToReadAsync(_stop.Token))
            {
                while (_work.Reader.TryRead(out var item))
                {
                    if (item is Control c)
                    {
                        Append(c.Buffer, c.Length);
                        ArrayPool<byte>.Shared.Return(c.Buffer);
                    }
                    else if (item is AgentRoomConnection s)
                    {
                        if (s.Process != this) { s.DrainOut(); s.Unschedule(); continue; } // it moved: its frames go with the JOIN on the new process
                        if (s.TakeOut(FramesPerTurn, AppendAudio)) _work.Writer.TryWrite(s);
                    }
                    if (_batchLength > BatchBytes - 2048) await FlushAsync(stdin);
                }
                await FlushAsync(stdin);
            }
            await FlushAsync(stdin);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // the process died; the supervisor sees the exit
        }
        finally
        {
            try { stdin.Close(); } catch (IOException) { }
        }
    }

    private void AppendAudio(byte[] frame)
    {
        Append(frame, BridgeProtocol.AudioOutBytes);
        ArrayPool<byte>.Shared.Return(frame);
    }

    private void Append(byte[] frame, int length)
    {
        if (_batchLength + length > _batch.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_batchLength + length);
            Buffer.BlockCopy(_batch, 0, bigger, 0, _batchLength);
            ArrayPool<byte>.Shared.Return(_batch);
            _batch = bigger;
        }
        Buffer.BlockCopy(frame, 0, _batch, _batchLength, length);
        _batchLength += length;
    }

    private async Task FlushAsync(Stream stdin)
    {
        if (_batchLength == 0) return;
        await stdin.WriteAsync(_batch.AsMemory(0, _batchLength));
        await stdin.FlushAsync();
        _batchLength = 0;
    }

    private async Task ReadLoopAsync()
    {
        var stdout = _process.StandardOutput.BaseStream;
        try
        {
            while (true)
            {
                var n = await stdout.ReadAsync(_reader.GetWriteMemory());
                if (n == 0) break;
                _reader.Advance(n);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            _stop.Cancel();
            _reader.Dispose();
        }
    }

    private async Task LogLoopAsync()
    {
        var stderr = _process.StandardError;
        try
        {
            while (await stderr.ReadLineAsync() is { } line)
            {
                if (line.Length > 2000) line = line[..2000];
                LogBridgeOutput(Pid, TokenLike().Replace(line, "[redacted]"));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    void IBridgeFrameHandler.OnFrame(BridgeFrameType type, uint session, ReadOnlySpan<byte> payload)
    {
        if (type == BridgeFrameType.Stats && session == 0)
        {
            Interlocked.Exchange(ref _rssBytes, (long)BridgeProtocol.StatAt(payload, 0));
            Interlocked.Exchange(ref _cpuMicros, (long)(BridgeProtocol.StatAt(payload, 2) + BridgeProtocol.StatAt(payload, 3)));
            _bridge.OnProcessStats(this);
            return;
        }
        if (type == BridgeFrameType.Error && session == 0)
        {
            if (BridgeProtocol.TryReadError(payload, out var code, out var message)) _bridge.OnBridgeError(this, 0, code, message);
            return;
        }
        if (type == BridgeFrameType.Pong) return;
        _bridge.Dispatch(this, type, session, payload);
    }

    void IBridgeFrameHandler.OnGarbage(int skippedBytes, string reason)
    {
        Interlocked.Increment(ref _garbageRuns);
        _bridge.OnGarbage(this, skippedBytes, reason);
    }

    private sealed record Control(byte[] Buffer, int Length);

    // a JWT: three base64url parts, the first starting with eyJ ('{"')
    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")]
    private static partial Regex TokenLike();

    [LoggerMessage(Level = LogLevel.Information, Message = "Media bridge {Pid}: {Line}")]
    private partial void LogBridgeOutput(int pid, string line);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Media bridge {Pid} did not exit within {Grace} of its stdin closing; killed")]
    private partial void LogKilled(int pid, TimeSpan grace);
}

/// <summary>What to run: the Node executable and the bridge script, resolved once at start-up.</summary>
public sealed record BridgeLaunch(string NodePath, string ScriptPath);
