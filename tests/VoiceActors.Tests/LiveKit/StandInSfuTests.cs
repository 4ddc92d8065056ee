using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Playwright;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>
/// The stand-in SFU's conformance suite with the official rtc-node client (src/media/sfu/conformance/conformance.test.js, node's test
/// runner), one xunit case per node test. Each node test starts and stops its own SFU process.
/// </summary>
public sealed class SfuConformanceTests
{
    [Theory]
    [InlineData("two rtc-node participants hear each other's tone through the SFU")]
    [InlineData("wrong, expired, other-room and grantless tokens get 401 at /rtc/validate and on the upgrade")]
    [InlineData("a hidden participant is not listed to others and its track is not delivered")]
    [InlineData("a second connection with the same identity evicts the older one")]
    [InlineData("after the server kills a signal socket the client resumes within the grace period and audio flows again both ways")]
    [InlineData("a participant whose signal stays down leaves when its grace runs out, and a late resume is sent to a full reconnect")]
    [InlineData("data packets reach the other participants with the sender's identity and topic, as LiveKit relays them")]
    [InlineData("garbage, oversized, unknown and unauthorized data packets are dropped and counted, never relayed")]
    [InlineData("removing a participant and closing a room from the control channel evict with the reason")]
    [InlineData("garbage, floods and limits are refused and counted; the process and the other sockets survive")]
    [InlineData("serving the API, it answers the official RoomService client and posts signed webhooks a WebhookReceiver accepts to every URL")]
    public async Task Sfu_conforms_with_rtc_node(string test)
    {
        var info = new ProcessStartInfo("node")
        {
            ArgumentList = { "--test", "--test-reporter=tap", "--test-name-pattern", "^" + System.Text.RegularExpressions.Regex.Escape(test) + "$", Path.Combine("sfu", "conformance", "conformance.test.js") },
            WorkingDirectory = MediaPackage.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start node");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, output);
        Assert.Contains("# pass 1\n", output, StringComparison.Ordinal); // exactly this test ran, and passed
        Assert.Contains("# fail 0\n", output, StringComparison.Ordinal);
    }
}

/// <summary>The C# host of the SFU: what the SFU reports becomes the stand-in's participants and signed webhooks, and the stand-in's evictions reach the SFU.</summary>
[CollectionDefinition(Name)]
public sealed class StandInSfuCollection : ICollectionFixture<StandInSfuFixture>
{
    public const string Name = "stand-in SFU";
}

[Collection(StandInSfuCollection.Name)]
public sealed class StandInSfuTests(StandInSfuFixture fixture)
{
    private readonly LiveKitStandIn _standIn = fixture.StandIn;

    [Fact]
    public async Task Clients_are_sent_to_the_SFU_and_what_it_reports_becomes_participants_and_signed_webhooks()
    {
        var room = "interview-sfu-" + Guid.NewGuid().ToString("N")[..8];
        Assert.StartsWith("ws://127.0.0.1:", _standIn.PublicUrl, StringComparison.Ordinal);
        Assert.Equal(fixture.Sfu.Url, _standIn.PublicUrl);
        Assert.True(_standIn.HasMedia);

        await using var ada = NodePeer.Start(_standIn.PublicUrl, fixture.Tokens.ForParticipant(room, "candidate-ada", ParticipantRole.Candidate, TimeSpan.FromMinutes(5)), freq: 440);
        await using var bob = NodePeer.Start(_standIn.PublicUrl, fixture.Tokens.ForParticipant(room, "candidate-bob", ParticipantRole.Candidate, TimeSpan.FromMinutes(5)), freq: 1250);
        var adaSid = (await ada.WaitForAsync(e => NodePeer.Is(e, "connected"), "ada to connect")).GetProperty("sid").GetString();
        await bob.WaitForAsync(e => NodePeer.Heard(e, "candidate-ada", 1000, 440, 1250), "bob to hear ada's tone");
        await ada.WaitForAsync(e => NodePeer.Heard(e, "candidate-bob", 1000, 1250, 440), "ada to hear bob's tone");

        var listed = _standIn.ParticipantsOf(room);
        Assert.Equal(["candidate-ada", "candidate-bob"], listed.Select(p => p.Identity).Order(StringComparer.Ordinal));
        var adaListed = listed.Single(p => p.Identity == "candidate-ada");
        Assert.Equal(adaSid, adaListed.Sid);
        Assert.True(adaListed.IsPublisher);
        Assert.Equal("candidate", adaListed.Attributes[LiveKitTokens.RoleAttribute]);

        await _standIn.WaitForWebhooksAsync();
        var events = fixture.Webhooks.Events.Where(e => e.Room?.Name == room).ToArray();
        Assert.Equal(2, events.Count(e => e.Event == "participant_joined"));
        var published = events.Where(e => e.Event == "track_published").ToArray();
        Assert.Equal(2, published.Length);
        Assert.All(published, e => Assert.StartsWith("TR_", e.Track!.Sid, StringComparison.Ordinal));
        Assert.Contains(published, e => e.Participant!.Identity == "candidate-ada" && e.Track!.MimeType == "audio/opus");

        // RoomService RemoveParticipant: the client is evicted from the media plane too.
        var removed = await fixture.CallTwirpAsync("RemoveParticipant", new VideoGrant { RoomAdmin = true, Room = room }, new { room, identity = "candidate-bob" });
        Assert.Equal("{}", removed);
        var left = await bob.WaitForAsync(e => NodePeer.Is(e, "disconnected"), "bob to be evicted");
        Assert.Equal(4 /* PARTICIPANT_REMOVED */, left.GetProperty("reason").GetInt32());
        Assert.Equal(["candidate-ada"], _standIn.ParticipantsOf(room).Select(p => p.Identity));

        // DeleteRoom: everyone is evicted, and the left webhooks are sent once per participant.
        await fixture.CallTwirpAsync("DeleteRoom", new VideoGrant { RoomCreate = true }, new { room });
        var adaLeft = await ada.WaitForAsync(e => NodePeer.Is(e, "disconnected"), "ada to be evicted with the room");
        Assert.Equal(5 /* ROOM_DELETED */, adaLeft.GetProperty("reason").GetInt32());
        await _standIn.WaitForWebhooksAsync();
        var leftEvents = fixture.Webhooks.Events.Where(e => e.Room?.Name == room && e.Event == "participant_left").Select(e => e.Participant!.Identity).Order(StringComparer.Ordinal);
        Assert.Equal(["candidate-ada", "candidate-bob"], leftEvents);
    }

    [Fact]
    public async Task A_duplicate_identity_leaves_one_participant_listed_the_newer_one()
    {
        var room = "interview-dup-" + Guid.NewGuid().ToString("N")[..8];
        var token = fixture.Tokens.ForParticipant(room, "candidate-dup", ParticipantRole.Candidate, TimeSpan.FromMinutes(5));
        await using var first = NodePeer.Start(_standIn.PublicUrl, token, freq: null);
        await first.WaitForAsync(e => NodePeer.Is(e, "connected"), "the first connection");
        await using var second = NodePeer.Start(_standIn.PublicUrl, token, freq: null);
        var newer = (await second.WaitForAsync(e => NodePeer.Is(e, "connected"), "the second connection")).GetProperty("sid").GetString();
        var evicted = await first.WaitForAsync(e => NodePeer.Is(e, "disconnected"), "the first connection to be evicted");
        Assert.Equal(2 /* DUPLICATE_IDENTITY */, evicted.GetProperty("reason").GetInt32());
        await Eventually.UntilAsync(() => _standIn.ParticipantsOf(room) is [{ } only] && only.Sid == newer, TimeSpan.FromSeconds(20),
            () => "timed out waiting for only the newer connection listed");
    }

    [Fact]
    public async Task Without_the_SFU_script_the_stand_in_says_so_and_keeps_working_without_media()
    {
        await using var standIn = new LiveKitStandIn(Options.Create(new LiveKitOptions()), TimeProvider.System,
            new Microsoft.Extensions.DependencyInjection.ServiceCollection().BuildServiceProvider(), NullLogger<LiveKitStandIn>.Instance);
        using var directory = new LiveKitDirectory(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, standIn); // no LiveKit:Url: the stand-in serves the region
        await using var sfu = new StandInSfu(standIn, directory, Options.Create(new StandInSfuOptions { Script = "/nonexistent/sfu/index.js" }), NullLogger<StandInSfu>.Instance);
        await sfu.StartAsync(CancellationToken.None);
        Assert.Null(sfu.Url);
        Assert.Contains("/nonexistent/sfu/index.js", sfu.Unavailable, StringComparison.Ordinal);
        Assert.False(standIn.HasMedia);
        Assert.Equal("ws://127.0.0.1:5080", standIn.PublicUrl);
        await standIn.SimulateParticipantAsync("interview-nomedia", "agent-1", ParticipantRole.Agent, joined: true);
        Assert.Single(standIn.ParticipantsOf("interview-nomedia"));

        await using var noNode = new StandInSfu(standIn, directory, Options.Create(new StandInSfuOptions { NodePath = "/nonexistent/node" }), NullLogger<StandInSfu>.Instance);
        await noNode.StartAsync(CancellationToken.None);
        Assert.Null(noNode.Url);
        Assert.Contains("/nonexistent/node", noNode.Unavailable, StringComparison.Ordinal);

        // With LiveKit:Url configured the stand-in serves no region, and its SFU is never started.
        using var configured = new LiveKitDirectory(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["LiveKit:Url"] = "wss://livekit.example" }).Build(), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, standIn);
        await using var unused = new StandInSfu(standIn, configured, Options.Create(new StandInSfuOptions()), NullLogger<StandInSfu>.Instance);
        await unused.StartAsync(CancellationToken.None);
        Assert.Null(unused.Url);
        Assert.Equal("every region has a LiveKit:Url", unused.Unavailable);
    }
}

/// <summary>livekit-client 2.23.0 in Debian's headless Chromium exchanges audio with an rtc-node participant through the SFU.</summary>
[Collection(StandInSfuCollection.Name)]
public sealed class StandInSfuBrowserTests(StandInSfuFixture fixture) : IAsyncLifetime
{
    private readonly HttpListener _pages = new();
    private string _origin = "";
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        // A real loopback origin, as the silo serves the candidate page: Chromium lets loopback pages reach the loopback SFU.
        var port = FreePort.Next();
        _origin = $"http://127.0.0.1:{port}";
        _pages.Prefixes.Add(_origin + "/");
        _pages.Start();
        _ = Task.Run(ServePagesAsync);
        var chromium = new[] { "/usr/bin/chromium" }.FirstOrDefault(File.Exists) ?? throw new InvalidOperationException("Debian's chromium is required (test.sh installs it).");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        _pages.Close();
    }

    private async Task ServePagesAsync()
    {
        var umd = Path.Combine(MediaPackage.Folder, "node_modules", "livekit-client", "dist", "livekit-client.umd.js");
        while (_pages.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _pages.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var script = context.Request.Url!.AbsolutePath.EndsWith("/livekit-client.umd.js", StringComparison.Ordinal);
            var body = script ? await File.ReadAllBytesAsync(umd) : System.Text.Encoding.UTF8.GetBytes(Page);
            context.Response.ContentType = script ? "text/javascript" : "text/html; charset=utf-8";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    [Fact]
    public async Task Browser_and_rtc_node_hear_each_other_through_the_SFU_and_the_browser_gets_rtc_nodes_data()
    {
        var room = "interview-web-" + Guid.NewGuid().ToString("N")[..8];
        var url = fixture.StandIn.PublicUrl;
        await using var agent = NodePeer.Start(url, fixture.Tokens.ForParticipant(room, "voice-agent", ParticipantRole.Candidate, TimeSpan.FromMinutes(5)), freq: 440,
            data: ("voiceactors.transcript", "line"));
        await agent.WaitForAsync(e => NodePeer.Is(e, "published"), "the rtc-node participant to publish");

        var page = await _browser.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) console.Add(m.Text); };
        await page.GotoAsync(_origin + "/index.html");
        var token = fixture.Tokens.ForParticipant(room, "candidate-web", ParticipantRole.Candidate, TimeSpan.FromMinutes(5));
        try
        {
            await page.EvaluateAsync("([url, token]) => window.run(url, token)", new[] { url, token });

            // The browser decodes the agent's audio with energy (Chromium's inbound-rtp totalAudioEnergy grows only with sound).
            await page.WaitForFunctionAsync("async () => { const s = await window.inbound('voice-agent'); return s && s.packets > 50 && s.energy > 0.01; }",
                null, new() { Timeout = 30_000, PollingInterval = 200 });
            // The agent hears the browser's fake microphone (Chromium's beep).
            await agent.WaitForAsync(e => NodePeer.Heard(e, "candidate-web", 300), "rtc-node to hear the browser's microphone", 30);
            // rtc-node's publishData arrives as livekit-client's RoomEvent.DataReceived: payload, sender, topic.
            await page.WaitForFunctionAsync("() => window.lk.data.length >= 3", null, new() { Timeout = 15_000 });
            var data = await page.EvaluateAsync<string[][]>("() => window.lk.data.slice(0, 3)");
            Assert.All(data, d => Assert.Equal(["voice-agent", "voiceactors.transcript"], d[..2]));
            Assert.Equal(data.Select(d => int.Parse(d[2].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).Order(), data.Select(d => int.Parse(d[2].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)));
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException)
        {
            string log;
            lock (console) log = System.Text.RegularExpressions.Regex.Replace(string.Join("\n", console.TakeLast(30)), "access_token=[^&' ]+", "access_token=<redacted>");
            throw new InvalidOperationException($"{e.Message}\nbrowser console:\n{log}", e);
        }
        Assert.Equal(["candidate-web", "voice-agent"], fixture.StandIn.ParticipantsOf(room).Select(p => p.Identity).Order(StringComparer.Ordinal));
    }

    private const string Page = """
        <!doctype html><html><body>
        <script src="/livekit-client.umd.js"></script>
        <script>
          window.lk = { tracks: {}, data: [] };
          window.run = async (url, token) => {
            const { Room, RoomEvent } = LivekitClient;
            const room = new Room();
            window.lk.room = room;
            room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) =>
              window.lk.data.push([participant ? participant.identity : '', topic ?? '', new TextDecoder().decode(payload)]));
            room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
              if (track.kind !== 'audio') return;
              window.lk.tracks[participant.identity] = track;
              document.body.appendChild(track.attach());
            });
            await room.connect(url, token);
            await room.localParticipant.setMicrophoneEnabled(true);
            return room.localParticipant.sid;
          };
          window.inbound = async (identity) => {
            const track = window.lk.tracks[identity];
            if (!track || !track.receiver) return null;
            let out = null;
            (await track.receiver.getStats()).forEach((s) => {
              if (s.type === 'inbound-rtp' && s.kind === 'audio') out = { packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0 };
            });
            return out;
          };
        </script></body></html>
        """;
}
