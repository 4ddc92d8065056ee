using System.Text.RegularExpressions;
using Microsoft.Playwright;
using VoiceActors.LiveKit;
using VoiceActors.Tests.Regions;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// Issue #16's region failover through the candidate page: two regions, each a silo process and a LiveKit (an SFU process of its
/// own), on real Redis; the candidate page in Chromium in the us room, hearing the agent. us's LiveKit dies: the region probe marks
/// it down, the session fails over to eu with a reconnect directive, and the page's failure handler (after livekit-client's five
/// retries) takes the directive and joins the eu room, where the agent answers again.
/// </summary>
public sealed class RegionFailoverPageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Stats = "document.getElementById('stats').dataset";
    private LiveKitCluster _cluster = null!;
    private CandidateBrowser _chromium = null!;

    public async Task InitializeAsync()
    {
        _chromium = await CandidateBrowser.LaunchAsync();
        _cluster = await LiveKitCluster.StartAsync(["eu", "us"], ("eu", 10), ("us", 10));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
        await _chromium.DisposeAsync();
    }

    [Fact]
    public async Task When_its_regions_livekit_dies_the_page_moves_the_candidate_to_the_backup_regions_room_and_the_agent_answers_there()
    {
        var fleet = _cluster.Fleet;
        var (eu, us) = (fleet.Silos[0], fleet.Silos[1]);
        var created = await LiveKitCluster.CreateAsync(eu, new() { ["us"] = 12, ["eu"] = 150 }, "cand-region");
        var id = created.GetProperty("sessionId").GetString()!;
        var room = SessionIds.RoomName(id);
        var candidate = LiveKitIdentities.Candidate("cand-region");
        Assert.Equal("us", created.GetProperty("region").GetString());
        Assert.Equal(_cluster.Sfu("us").Url, created.GetProperty("livekit").GetProperty("url").GetString());

        // The page is served by eu's gateway and joins the us room, where us's silo puts the agent.
        var page = await _chromium.Browser.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) console.Add(Regex.Replace(m.Text, "(access_token|join_request)=[^&' ]+", "$1=<redacted>")); };
        await page.GotoAsync(created.GetProperty("candidateUrl").GetString()!);
        await WaitOnPageAsync(page, $"() => {{ const s = {Stats}; return s.transport === 'livekit' && s.agent === 'present' && +s.heard >= 4; }}",
            "the page to hear the agent in the us room", console, () => DiagnoseAsync(id));
        Assert.Contains(_cluster.Sfu("us").ParticipantEvents(candidate), e => e.GetProperty("ev").GetString() == "participant_joined");
        Assert.Equal(us, fleet.SiloOf(await fleet.SnapshotAsync(id)));

        // us's LiveKit dies mid-interview.
        var clock = Stopwatch.StartNew();
        _cluster.Sfu("us").KillHard();
        await WaitOnPageAsync(page, "() => +(document.getElementById('banner').dataset.shown ?? 0) >= 1", "the reconnect banner", console, () => DiagnoseAsync(id));

        // The page takes the session's reconnect directive and joins the eu room (a token signed with eu's key: only the directive has one).
        await SiloFleet.WaitUntilAsync(() => Task.FromResult(_cluster.Sfu("eu").ParticipantEvents(candidate).Any(e => e.GetProperty("ev").GetString() == "participant_joined")),
            TimeSpan.FromSeconds(60), () => $"the page never joined the eu room; console: {Tail(console)}; {DiagnoseAsync(id).GetAwaiter().GetResult()}");
        var movedMs = clock.ElapsedMilliseconds;
        var heardBefore = int.Parse((await page.Locator("#stats").GetAttributeAsync("data-heard"))!, System.Globalization.CultureInfo.InvariantCulture);
        var turns = (await fleet.SnapshotAsync(id)).TurnCount;

        // The agent answers there: it hears the candidate (new turns) and the page hears it (2 s of its voice, polled every 0.5 s).
        await WaitOnPageAsync(page, $"() => {{ const s = {Stats}; return s.agent === 'present' && +s.heard >= {heardBefore + 4}; }}",
            "the page to hear the agent in the eu room", console, () => DiagnoseAsync(id));
        var answeredMs = clock.ElapsedMilliseconds;
        await SiloFleet.WaitUntilAsync(async () => (await fleet.SnapshotAsync(id)).TurnCount > turns, TimeSpan.FromSeconds(30),
            () => "the agent in the eu room never recorded a new turn");

        var session = await fleet.SnapshotAsync(id);
        Assert.Equal(SessionStatus.Active, session.Status);
        Assert.Equal("eu", session.Region);
        Assert.Equal("us", session.Reconnect?.FromRegion);
        Assert.Equal("eu", session.Reconnect?.Region);
        Assert.Equal(eu, fleet.SiloOf(session));
        var inEu = await _cluster.Rooms("eu").ListParticipantsAsync(room);
        Assert.Contains(inEu, p => p.Identity == candidate);
        Assert.Contains(inEu, p => p.Identity == LiveKitIdentities.Agent(id) && p.Kind == ParticipantKind.Agent);
        Assert.True(await page.Locator("#banner").IsHiddenAsync());
        Assert.True(await page.Locator("#error").IsHiddenAsync());
        Assert.Equal("livekit", await page.Locator("#stats").GetAttributeAsync("data-transport"));
        output.WriteLine($"region failover through the page: us LiveKit killed → candidate in the eu room after {movedMs} ms, agent heard there after {answeredMs} ms " +
            $"(livekit-client's 5 retries ~1 s apart, then the directive); load average {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3])}");
    }

    private static async Task WaitOnPageAsync(IPage page, string condition, string what, List<string> console, Func<Task<string>> diagnose)
    {
        try
        {
            await page.WaitForFunctionAsync(condition, null, new() { Timeout = 60_000, PollingInterval = 100 });
        }
        catch (TimeoutException e)
        {
            var stats = await page.Locator("#stats").EvaluateAsync<string>("e => JSON.stringify(e.dataset)");
            throw new TimeoutException($"timed out waiting for {what}; page stats {stats}; console: {Tail(console)}; {await diagnose()}", e);
        }
    }

    /// <summary>Where the session and both SFUs got to, for a failure message.</summary>
    private async Task<string> DiagnoseAsync(string id)
    {
        var timeline = await _cluster.Fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant);
        string Events(string region) => string.Join(", ", _cluster.Sfu(region).Seen().Where(e => e.GetProperty("ev").GetString() is not ("stats" or "ack"))
            .Select(e => $"{e.GetProperty("ev").GetString()} {(e.TryGetProperty("identity", out var i) ? i.GetString() : "")}"));
        return $"timeline: {string.Join(" | ", timeline.Select(e => $"{e.Kind}: {e.Detail}"))}; us SFU: {Events("us")}; eu SFU: {Events("eu")}; " +
            $"us SFU stderr: {_cluster.Sfu("us").Stderr[^Math.Min(1000, _cluster.Sfu("us").Stderr.Length)..]}";
    }

    /// <summary>The page's last console lines, each cut short: livekit-client logs signal URLs, and their query is never shown.</summary>
    private static string Tail(List<string> console)
    {
        lock (console) return string.Join(" | ", console.TakeLast(20).Select(l => l.Length > 200 ? l[..200] + "…" : l));
    }
}
