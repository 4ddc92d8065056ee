using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>The media package (src/media, npm ci'd by test.sh); a missing install is a failure, not a skip.</summary>
public static class MediaPackage
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var media = Path.Combine(dir.FullName, "src", "media");
            if (File.Exists(Path.Combine(media, "sfu", "index.js")))
            {
                if (!Directory.Exists(Path.Combine(media, "node_modules", "werift")))
                    throw new InvalidOperationException($"The media npm packages are not installed: run 'npm ci' in {media} (test.sh does).");
                return media;
            }
        }
        throw new InvalidOperationException("src/media/sfu/index.js not found above " + AppContext.BaseDirectory);
    });

    public static string Folder => Root.Value;
}

/// <summary>
/// A <see cref="LiveKitStandIn"/> wired as a host wires it (<c>AddLiveKitStandIn</c>), its <see cref="StandInSfu"/> started on a
/// free loopback port, and every verified webhook recorded. Stopped (the SFU process exits) on dispose.
/// </summary>
public sealed class StandInSfuFixture : IAsyncLifetime
{
    private ServiceProvider _services = null!;

    public LiveKitStandIn StandIn { get; private set; } = null!;
    public StandInSfu Sfu { get; private set; } = null!;
    public RecordingEventHandler Webhooks { get; } = new();
    public LiveKitTokens Tokens { get; } = new(LiveKitOptions.DevelopmentApiKey, LiveKitOptions.DevelopmentApiSecret, TimeProvider.System);

    public async Task InitializeAsync()
    {
        _ = MediaPackage.Folder;
        var configuration = new ConfigurationBuilder().Build();
        _services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton<ILiveKitEventHandler>(Webhooks)
            .AddLiveKitStandIn()
            .BuildServiceProvider();
        StandIn = _services.GetRequiredService<LiveKitStandIn>();
        _ = _services.GetRequiredService<LiveKitDirectory>(); // registers the region keys, as a host does
        Sfu = _services.GetRequiredService<StandInSfu>();
        await Sfu.StartAsync(CancellationToken.None);
        if (Sfu.Url is null) throw new InvalidOperationException("The stand-in SFU did not start: " + Sfu.Unavailable);
    }

    public async Task DisposeAsync()
    {
        await Sfu.StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }

    public Task<string> CallTwirpAsync(string method, VideoGrant grant, object body) =>
        StandIn.HandleAsync("POST", LiveKitRoomClient.PathPrefix + method, "application/json", "Bearer " + Tokens.ForServer(grant, TimeSpan.FromMinutes(1)),
            JsonSerializer.SerializeToUtf8Bytes(body)).ContinueWith(t => System.Text.Encoding.UTF8.GetString(t.Result.Body), TaskScheduler.Default);
}

public sealed class RecordingEventHandler : ILiveKitEventHandler
{
    public ConcurrentQueue<LiveKitWebhookEvent> Events { get; } = new();

    public Task<WebhookResult> HandleAsync(LiveKitWebhookEvent ev, CancellationToken ct)
    {
        Events.Enqueue(ev);
        return Task.FromResult(new WebhookResult(WebhookOutcome.Applied, "", ev.Id, ev.Event));
    }
}

/// <summary>One official rtc-node participant (src/media/sfu/conformance/peer-cli.js) in a child process; its events as JSON lines.</summary>
public sealed class NodePeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<JsonElement> _events = new();
    private readonly Task _reader;
    private readonly System.Text.StringBuilder _stderr = new();

    private NodePeer(Process process)
    {
        _process = process;
        _reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("{\"ev\":", StringComparison.Ordinal)) continue; // rtc-node's own logs share stdout
                using var doc = JsonDocument.Parse(line);
                _events.Enqueue(doc.RootElement.Clone());
            }
        });
        _ = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
                lock (_stderr) _stderr.AppendLine(line);
        });
    }

    /// <summary>Joins <paramref name="url"/> with <paramref name="token"/>; publishes a tone of <paramref name="freq"/> Hz unless null.</summary>
    public static NodePeer Start(string url, string token, int? freq, (string Topic, string Text)? data = null)
    {
        var info = new ProcessStartInfo("node")
        {
            ArgumentList = { Path.Combine("sfu", "conformance", "peer-cli.js") },
            WorkingDirectory = MediaPackage.Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start node");
        process.StandardInput.WriteLine(JsonSerializer.Serialize(new { url, token, freq, data = data is { } d ? new { topic = d.Topic, text = d.Text } : null }));
        process.StandardInput.Flush();
        return new NodePeer(process);
    }

    public IEnumerable<JsonElement> Events => _events;

    /// <summary>Waits for an event matching <paramref name="match"/>; fails with the peer's output after <paramref name="seconds"/>.</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, int seconds = 20)
    {
        JsonElement found = default;
        await Eventually.UntilAsync(() =>
        {
            foreach (var e in _events)
            {
                if (e.GetProperty("ev").GetString() == "error") throw new InvalidOperationException("rtc-node peer failed: " + e);
                if (match(e))
                {
                    found = e;
                    return true;
                }
            }
            return false;
        }, TimeSpan.FromSeconds(seconds), () =>
        {
            string err;
            lock (_stderr) err = _stderr.ToString();
            return $"rtc-node peer: timed out waiting for {what}; stderr: {err[Math.Max(0, err.Length - 1500)..]}";
        });
        return found;
    }

    public static bool Is(JsonElement e, string ev) => e.GetProperty("ev").GetString() == ev;

    /// <summary>The peer heard <paramref name="identity"/> with audible energy (and, if given, <paramref name="freq"/> dominant over <paramref name="other"/>).</summary>
    public static bool Heard(JsonElement e, string identity, int minRms, int? freq = null, int? other = null) =>
        Is(e, "heard") && e.GetProperty("identity").GetString() == identity && e.GetProperty("rms").GetInt32() >= minRms
        && (freq is null || e.GetProperty("power").GetProperty($"{freq}").GetDouble() > 20 * e.GetProperty("power").GetProperty($"{other}").GetDouble());

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the peer leaves the room and exits
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _reader.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }
}
