using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace VoiceActors.LoadTest.LiveKit;

/// <summary>What the candidate driver reports (one JSON line each, see src/media/tools/candidate-driver.js).</summary>
public abstract record DriverEvent(string Id);
public sealed record CandidateJoined(string Id, double Ms) : DriverEvent(Id);
/// <summary>The agent's voice track reached the candidate, <paramref name="Ms"/> after its join began.</summary>
public sealed record AgentHeard(string Id, double Ms) : DriverEvent(Id);
public sealed record CandidateFailed(string Id, string Message) : DriverEvent(Id);
public sealed record CandidateTurn(string Id, double VoiceToVoiceMs, int HeardFrames) : DriverEvent(Id);
public sealed record CandidateUnanswered(string Id) : DriverEvent(Id);
public sealed record CandidateLeft(string Id) : DriverEvent(Id);
/// <summary>The candidate listens to a remote audio track (a re-joined agent's new track replaces the old one).</summary>
public sealed record CandidateSubscribed(string Id, string Identity, string ParticipantSid, string TrackSid) : DriverEvent(Id);
/// <summary>One run of loud agent audio as the candidate heard it, wall-clock Unix milliseconds.</summary>
public sealed record CandidateVoice(string Id, string ParticipantSid, long StartMs, long EndMs) : DriverEvent(Id);
/// <summary>The candidate's client lost its connection and is resuming it (false), or resumed it (true).</summary>
public sealed record CandidateReconnect(string Id, bool Reconnected) : DriverEvent(Id);

/// <summary>The driver's cumulative counters (its own process, every candidate together).</summary>
public sealed record DriverStats(int Sessions, long FramesSent, long FramesLate, long CaptureErrors, long FramesHeard, long RssBytes, long CpuMicros);

/// <summary>
/// The load tester's candidates on the official <c>@livekit/rtc-node</c>: one Node process
/// (<c>src/media/tools/candidate-driver.js</c>) drives every room, steered by JSON lines on its stdin. Tokens travel on
/// stdin only, never on the command line or in a log.
/// </summary>
public sealed class CandidateDriver : IAsyncDisposable
{
    public const string Script = "tools/candidate-driver.js";

    private readonly Process _process;
    private readonly Channel<DriverEvent> _events = Channel.CreateUnbounded<DriverEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _writeLock = new();
    private readonly System.Text.StringBuilder _stderr = new();
    private DriverStats? _stats;

    private CandidateDriver(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) if (_stderr.Length < 64 * 1024) _stderr.AppendLine(e.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;
    public ChannelReader<DriverEvent> Events => _events.Reader;
    public DriverStats? Stats => Volatile.Read(ref _stats);
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>src/media (where the script and its node_modules are), found above <paramref name="from"/>.</summary>
    public static string? FindMediaDirectory(string from)
    {
        for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
        {
            var media = Path.Combine(dir.FullName, "src", "media");
            if (File.Exists(Path.Combine(media, Script)) && Directory.Exists(Path.Combine(media, "node_modules", "@livekit", "rtc-node"))) return media;
        }
        return null;
    }

    public static async Task<CandidateDriver> StartAsync(string mediaDirectory, CancellationToken ct)
    {
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = mediaDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Script);
        info.Environment["NODE_ENV"] = "production"; // rtc-node's logger at info, not debug
        var process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        var driver = new CandidateDriver(process);
        try
        {
            await driver._ready.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        catch (TimeoutException)
        {
            await driver.DisposeAsync();
            throw new InvalidOperationException($"the candidate driver did not start: {driver.Stderr}");
        }
        return driver;
    }

    public void Join(string id, string url, string token, double speechMs, double silenceMs, double offsetMs) =>
        Send(new { op = "join", id, url, token, speechMs, silenceMs, offsetMs });

    public void Leave(string id) => Send(new { op = "leave", id });

    private void Send(object message)
    {
        var line = JsonSerializer.Serialize(message);
        lock (_writeLock)
        {
            if (_process.HasExited) return;
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _events.Writer.TryComplete();
            return;
        }
        if (line.Length == 0 || line[0] != '{') return;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            if (!e.TryGetProperty("ev", out var ev)) return;
            var id = e.TryGetProperty("id", out var i) ? i.GetString() ?? "" : "";
            DriverEvent? evt = ev.GetString() switch
            {
                "ready" => Ready(),
                "joined" => new CandidateJoined(id, e.GetProperty("ms").GetDouble()),
                "agent" => new AgentHeard(id, e.GetProperty("ms").GetDouble()),
                "failed" => new CandidateFailed(id, e.GetProperty("message").GetString() ?? ""),
                "turn" => new CandidateTurn(id, e.GetProperty("v2vMs").GetDouble(), e.GetProperty("heardFrames").GetInt32()),
                "unanswered" => new CandidateUnanswered(id),
                "left" => new CandidateLeft(id),
                "subscribed" => new CandidateSubscribed(id, e.GetProperty("identity").GetString() ?? "", e.GetProperty("participantSid").GetString() ?? "",
                    e.GetProperty("trackSid").GetString() ?? ""),
                "voice" => new CandidateVoice(id, e.GetProperty("participantSid").GetString() ?? "", e.GetProperty("startMs").GetInt64(), e.GetProperty("endMs").GetInt64()),
                "reconnecting" => new CandidateReconnect(id, false),
                "reconnected" => new CandidateReconnect(id, true),
                "stats" => OnStats(e),
                _ => null,
            };
            if (evt is not null) _events.Writer.TryWrite(evt);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // not one of its events (rtc-node logs go to stderr, but a stray line must not stop the run)
        }
    }

    private DriverEvent? Ready()
    {
        _ready.TrySetResult();
        return null;
    }

    private DriverEvent? OnStats(JsonElement e)
    {
        Volatile.Write(ref _stats, new DriverStats(e.GetProperty("sessions").GetInt32(), e.GetProperty("framesSent").GetInt64(), e.GetProperty("framesLate").GetInt64(),
            e.GetProperty("captureErrors").GetInt64(), e.GetProperty("framesHeard").GetInt64(), e.GetProperty("rss").GetInt64(),
            e.GetProperty("cpuUserUs").GetInt64() + e.GetProperty("cpuSystemUs").GetInt64()));
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            lock (_writeLock) _process.StandardInput.Close(); // it leaves every room and exits when stdin closes
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }
}
