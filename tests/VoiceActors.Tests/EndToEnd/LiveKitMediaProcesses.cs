using System.Threading.Channels;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>A Node process of the media plane (src/media) that talks newline-delimited JSON on stdio.</summary>
public abstract class JsonLineProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly List<JsonElement> _seen = [];
    private readonly System.Text.StringBuilder _stderr = new();

    protected JsonLineProcess(string script, params string[] args)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = MediaDir,
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        _process.OutputDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            try
            {
                _events.Writer.TryWrite(JsonDocument.Parse(e.Data).RootElement.Clone());
            }
            catch (JsonException)
            {
                // not one of its events; stderr carries the logs
            }
        };
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>src/media, found above the test binaries.</summary>
    public static string MediaDir
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var media = Path.Combine(dir.FullName, "src", "media");
                if (File.Exists(Path.Combine(media, "package.json"))) return media;
            }
            throw new InvalidOperationException("src/media not found above " + AppContext.BaseDirectory);
        }
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Every event so far, those a <see cref="WaitForAsync"/> consumed included; not to be called while one waits.</summary>
    public IReadOnlyList<JsonElement> Seen()
    {
        while (_events.Reader.TryRead(out var e)) _seen.Add(e);
        return [.. _seen];
    }

    public void Send(object message)
    {
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(message));
        _process.StandardInput.Flush();
    }

    /// <summary>Every event so far plus those arriving, until one matches (15 s, then the process's stderr in the failure).</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, int seconds = 15)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            while (true)
            {
                var e = await _events.Reader.ReadAsync(timeout.Token);
                _seen.Add(e);
                if (e.TryGetProperty("ev", out var ev) && ev.GetString() == "error")
                    Assert.Fail($"{GetType().Name} reported an error while waiting for {what}: {e}; stderr: {Stderr}");
                if (match(e)) return e;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Timed out waiting for {what}; stderr: {Stderr}");
            throw;
        }
    }

    /// <summary>SIGKILL: the process dies as a crashed machine would, mid-call.</summary>
    public void KillHard()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // both processes exit when stdin closes
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
        GC.SuppressFinalize(this);
    }

    protected static string Ev(JsonElement e) => e.TryGetProperty("ev", out var ev) ? ev.GetString() ?? "" : "";
}

/// <summary>The stand-in SFU (src/media/sfu), keyed with the system's LiveKit key and secret (sent on stdin, never argv).</summary>
public sealed class StandInSfu : JsonLineProcess
{
    private StandInSfu(string[] args) : base(Path.Combine("sfu", "index.js"), args)
    {
    }

    public string Url { get; private set; } = "";

    /// <summary>Media only, as the C# stand-in's child: rooms, the API and webhooks are someone else's.</summary>
    public static Task<StandInSfu> StartAsync(string apiKey, string apiSecret) =>
        StartAsync(new Dictionary<string, string> { [apiKey] = apiSecret }, "--port", "0", "--stats-interval-ms", "60000");

    /// <summary>
    /// A LiveKit server of its own (<c>--serve-api</c>): RoomService on <paramref name="port"/> and signed webhooks to every URL,
    /// for silos configured with <c>LiveKit:Url</c>; a process apart from them, so killing a silo leaves its rooms up.
    /// </summary>
    public static Task<StandInSfu> ServeAsync(IReadOnlyDictionary<string, string> keys, int port, IEnumerable<Uri> webhookUrls) =>
        StartAsync(keys, ["--serve-api", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--stats-interval-ms", "60000",
            .. webhookUrls.SelectMany(u => new[] { "--webhook-url", u.ToString() })]);

    private static async Task<StandInSfu> StartAsync(IReadOnlyDictionary<string, string> keys, params string[] args)
    {
        var sfu = new StandInSfu(args);
        sfu.Send(new { op = "keys", keys });
        try
        {
            // Loading werift and the protocol takes seconds of CPU: on a loaded 2-core machine, next to starting silos, far more.
            sfu.Url = (await sfu.WaitForAsync(e => Ev(e) == "listening", "the SFU to listen", seconds: 60)).GetProperty("url").GetString()!;
            return sfu;
        }
        catch
        {
            await sfu.DisposeAsync();
            throw;
        }
    }

    /// <summary>The participant events it reported so far (<c>participant_joined</c>/<c>participant_left</c>) for <paramref name="identity"/>.</summary>
    public IReadOnlyList<JsonElement> ParticipantEvents(string identity) =>
        Seen().Where(e => Ev(e) is "participant_joined" or "participant_left" && e.GetProperty("identity").GetString() == identity).ToArray();

    /// <summary>Fault injection: the SFU closes the participant's signal socket without a leave.</summary>
    public void DropSignal(string room, string identity) => Send(new { op = "drop_signal", room, identity });
}

/// <summary>An agent on the official @livekit/rtc-node (src/media/tools/tone-agent.js): publishes a tone, reports what it hears.</summary>
public sealed class ToneAgent : JsonLineProcess
{
    private ToneAgent() : base(Path.Combine("tools", "tone-agent.js"))
    {
    }

    public static async Task<ToneAgent> JoinAsync(string url, string room, string identity, string apiKey, string apiSecret)
    {
        var agent = new ToneAgent();
        agent.Send(new { url, room, identity, apiKey, apiSecret });
        await agent.WaitForAsync(e => Ev(e) == "joined", "the tone agent to join");
        return agent;
    }

    /// <summary>Waits until a quarter second heard from a remote participant is audible; returns that participant's identity.</summary>
    public async Task<string> WaitHearsAsync(string what, int seconds = 20) =>
        (await WaitForAsync(e => Ev(e) == "heard" && e.GetProperty("rms").GetDouble() > 0.01, what, seconds)).GetProperty("identity").GetString()!;
}
