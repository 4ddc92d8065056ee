using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using System.Net.Http.Json;
using Microsoft.Playwright;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// The candidate page in a real headless Chromium (Debian's, never a downloaded one) with a fake microphone playing a WAV
/// this test writes: speech-like sound, then a pause, on a loop. Against the real embedded-default system.
/// </summary>
[Collection(AudioSystemCollection.Name)]
public sealed class CandidatePageTests(AudioSystemFixture fixture) : IAsyncLifetime
{
    private readonly AudioSystem _system = fixture.System;
    private CandidateBrowser _chromium = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _chromium = await CandidateBrowser.LaunchAsync();
        _browser = _chromium.Browser;
    }

    public async Task DisposeAsync() => await _chromium.DisposeAsync();

    [Fact]
    public async Task Candidate_page_streams_the_microphone_plays_the_agent_and_reconnects_after_the_socket_is_killed()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        var page = await _browser.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => console.Add(m.Text);

        await page.GotoAsync($"{_system.BaseAddress}interview/{id}?transport=socket#token={token}");

        // Audio goes in, provider audio comes back, and a transcript turn appears on the page and in the session.
        await page.WaitForFunctionAsync("() => +document.getElementById('stats').dataset.received >= 10", null, new() { Timeout = 30_000 });
        await page.Locator("#transcript li[data-speaker='agent']").First.WaitForAsync(new() { Timeout = 30_000 });
        Assert.True(await page.Locator("#banner").IsHiddenAsync());
        await AudioSystem.Eventually(async () => (await _system.GetInterviewAsync(id)).GetProperty("turns").GetInt32() >= 2,
            "the candidate's and the agent's turns in the session");
        Assert.Equal("Active", (await _system.GetInterviewAsync(id)).GetProperty("state").GetString());

        // The server kills the media socket: the page says so, reconnects with backoff, and the banner clears.
        Assert.Equal(1, _system.Sockets.Abort(id));
        // The socket reconnects within about 250 ms, faster than Playwright polls: the page counts each time the banner shows.
        await page.WaitForFunctionAsync("() => +(document.getElementById('banner').dataset.shown ?? 0) >= 1", null, new() { Timeout = 10_000 });
        Assert.Equal("Connection interrupted, reconnecting…", await page.Locator("#banner").InnerTextAsync());
        await page.Locator("#banner").WaitForAsync(new() { State = WaitForSelectorState.Hidden, Timeout = 15_000 });
        await AudioSystem.Eventually(() => Task.FromResult(_system.Sockets.Of(id).Count == 1), "the page's new socket");
        var sentBefore = int.Parse((await page.Locator("#stats").GetAttributeAsync("data-sent"))!);
        await page.WaitForFunctionAsync($"() => +document.getElementById('stats').dataset.sent > {sentBefore + 25}", null, new() { Timeout = 10_000 });
        Assert.DoesNotContain(console, m => m.Contains("invalid_frame", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Candidate_page_joins_livekit_publishes_the_microphone_hears_the_agent_and_shows_the_banner_while_reconnecting()
    {
        var livekit = _system.Services.GetRequiredService<IOptions<LiveKitOptions>>().Value;
        await using var sfu = await StandInSfu.StartAsync(livekit.ApiKey, livekit.ApiSecret);
        var (id, token) = await _system.CreateInterviewAsync();
        var room = SessionIds.RoomName(id);
        await using var agent = await ToneAgent.JoinAsync(sfu.Url, room, "agent-tone", livekit.ApiKey, livekit.ApiSecret);
        var page = await _browser.NewPageAsync();

        // The session's livekit.url is not the SFU this test started, so the fragment names it.
        await page.GotoAsync($"{_system.BaseAddress}interview/{id}#token={token}&livekit={Uri.EscapeDataString(sfu.Url)}");

        // The page is on LiveKit, sees a visible agent, and hears its tone; the agent hears the page's microphone.
        await page.WaitForFunctionAsync("() => { const s = document.getElementById('stats').dataset; return s.transport === 'livekit' && s.agent === 'present' && +s.heard >= 10; }",
            null, new() { Timeout = 30_000 });
        var candidate = await agent.WaitHearsAsync("the agent to hear the candidate's microphone");
        Assert.StartsWith("cand", candidate, StringComparison.Ordinal);
        Assert.True(await page.Locator("#banner").IsHiddenAsync());
        Assert.True(int.Parse((await page.Locator("#stats").GetAttributeAsync("data-sent"))!) > 0);

        // The SFU kills the candidate's signal socket: the banner shows while the client reconnects, then hides.
        sfu.DropSignal(room, candidate);
        await page.Locator("#banner").WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 10_000 });
        Assert.Equal("Connection interrupted, reconnecting…", await page.Locator("#banner").InnerTextAsync());
        await page.Locator("#banner").WaitForAsync(new() { State = WaitForSelectorState.Hidden, Timeout = 20_000 });

        // Audio flows both ways again after the reconnect.
        var heardBefore = int.Parse((await page.Locator("#stats").GetAttributeAsync("data-heard"))!);
        await page.WaitForFunctionAsync($"() => +document.getElementById('stats').dataset.heard > {heardBefore + 10}", null, new() { Timeout = 15_000 });
        Assert.Equal(candidate, await agent.WaitHearsAsync("the agent to hear the candidate again after the reconnect"));
        Assert.True(await page.Locator("#error").IsHiddenAsync());
    }

    private static AudioSystem WithMediaPlane() => new(new Dictionary<string, string?> { ["LiveKit:StandInSfu:Enabled"] = "true" });

    private static async Task<(string Id, JsonElement Created)> CreateAsync(HttpClient api, string candidateId)
    {
        var created = await (await api.PostAsJsonAsync("/v1/interviews", new { candidateId, jobId = "job-1" })).Content.ReadFromJsonAsync<JsonElement>();
        return (created.GetProperty("sessionId").GetString()!, created);
    }

    [Fact]
    public async Task Candidate_page_on_embedded_defaults_hears_the_agent_the_silo_puts_in_the_room_and_is_heard_by_it()
    {
        // The real embedded system with its media plane: the stand-in's SFU and the silo's agent bridge, both Node children of the silo.
        using var system = WithMediaPlane();
        using var api = system.Api();
        var (id, created) = await CreateAsync(api, "cand-room");
        var url = created.GetProperty("livekit").GetProperty("url").GetString()!;
        Assert.StartsWith("ws://127.0.0.1:", url, StringComparison.Ordinal);
        Assert.NotEqual(system.BaseAddress.Port, new Uri(url).Port); // where the SFU really listens, not the gateway

        var page = await _browser.NewPageAsync();
        await page.GotoAsync(created.GetProperty("candidateUrl").GetString()!);

        // The page is on LiveKit and hears the agent: the simulated provider's voice, through the silo's bridge and the SFU.
        await page.WaitForFunctionAsync("() => { const s = document.getElementById('stats').dataset; return s.transport === 'livekit' && s.agent === 'present' && +s.heard >= 10; }",
            null, new() { Timeout = 60_000 });

        // The agent heard the candidate: the provider answered turns, and the session went Active through the production
        // webhook path (the SFU reports joins to the stand-in, which signs webhooks the gateway routes to the session).
        await AudioSystem.Eventually(async () => (await system.GetInterviewAsync(id)).GetProperty("turns").GetInt32() >= 2,
            "the candidate's and the agent's turns in the session", seconds: 30);
        // Transcript lines reach the page as LiveKit data (the bridge publishes them, the SFU relays them): no media socket is open.
        await page.Locator("#transcript li[data-speaker='agent']").First.WaitForAsync(new() { Timeout = 30_000 });
        Assert.StartsWith("Interviewer: ", await page.Locator("#transcript li[data-speaker='agent']").First.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(system.Sockets.Of(id));
        var session = await system.GetInterviewAsync(id);
        Assert.Equal("Active", session.GetProperty("state").GetString());
        var standIn = system.Services.GetRequiredService<LiveKitStandIn>();
        var agent = Assert.Single(standIn.ParticipantsOf(SessionIds.RoomName(id)), p => p.Identity == LiveKitIdentities.Agent(id));
        Assert.Equal(ParticipantKind.Agent, agent.Kind);
        Assert.False(agent.Permission?.Hidden ?? false); // visible: LiveKit delivers no hidden participant's tracks
        using var timeline = JsonDocument.Parse(await api.GetStringAsync($"/v1/interviews/{id}/timeline"));
        Assert.Contains(timeline.RootElement.GetProperty("events").EnumerateArray(),
            e => e.GetProperty("kind").GetString() == TimelineKinds.ParticipantJoined && (e.GetProperty("detail").GetString() ?? "").Contains(LiveKitIdentities.Agent(id), StringComparison.Ordinal));

        // At the end the agent leaves the room: the bridge carries no session any more.
        var bridge = system.Services.GetRequiredService<VoiceActors.Media.Bridge.MediaBridge>();
        Assert.Equal(1, bridge.SessionCount);
        await api.PostAsync($"/v1/interviews/{id}/complete", null);
        await AudioSystem.Eventually(() => Task.FromResult(bridge.SessionCount == 0), "the agent to leave the room");
    }

    [Fact]
    public async Task Candidate_page_resumes_after_its_signal_socket_is_killed_without_leaving_the_room()
    {
        using var system = WithMediaPlane();
        using var api = system.Api();
        var (id, created) = await CreateAsync(api, "cand-resume");
        var room = SessionIds.RoomName(id);
        var candidate = LiveKitIdentities.Candidate("cand-resume");
        var page = await _browser.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) console.Add(System.Text.RegularExpressions.Regex.Replace(m.Text, "access_token=[^&' ]+", "access_token=<redacted>")); };
        await page.GotoAsync(created.GetProperty("candidateUrl").GetString()!);
        await page.WaitForFunctionAsync("() => { const s = document.getElementById('stats').dataset; return s.transport === 'livekit' && s.agent === 'present' && +s.heard >= 10; }",
            null, new() { Timeout = 60_000 });
        var standIn = system.Services.GetRequiredService<LiveKitStandIn>();
        var sid = Assert.Single(standIn.ParticipantsOf(room), p => p.Identity == candidate).Sid;

        // The SFU kills the candidate's signal socket. LiveKit keeps the participant for a grace period: livekit-client resumes.
        system.Services.GetRequiredService<VoiceActors.LiveKit.StandInSfu>().DropSignal(room, candidate);
        await page.WaitForFunctionAsync("() => +(document.getElementById('banner').dataset.shown ?? 0) >= 1", null, new() { Timeout = 10_000 });
        await page.Locator("#banner").WaitForAsync(new() { State = WaitForSelectorState.Hidden, Timeout = 20_000 });
        // Both ways again: the agent hears the candidate (a new turn), and the page hears the agent's answer.
        var turns = (await system.GetInterviewAsync(id)).GetProperty("turns").GetInt32();
        var heardBefore = int.Parse((await page.Locator("#stats").GetAttributeAsync("data-heard"))!, System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            await AudioSystem.Eventually(async () => (await system.GetInterviewAsync(id)).GetProperty("turns").GetInt32() > turns,
                "the agent to hear the candidate again and answer", seconds: 30);
            await page.WaitForFunctionAsync($"() => +document.getElementById('stats').dataset.heard > {heardBefore + 10}", null, new() { Timeout = 30_000 });
        }
        catch (TimeoutException e)
        {
            string log;
            lock (console) log = string.Join(" | ", console.TakeLast(15));
            throw new TimeoutException($"{e.Message}; SFU: {system.Services.GetRequiredService<VoiceActors.LiveKit.StandInSfu>().Stats}; console: {log}", e);
        }

        // Never left: the same participant (sid) is in the room, and no participant_left webhook reached the session.
        Assert.Equal(sid, Assert.Single(standIn.ParticipantsOf(room), p => p.Identity == candidate).Sid);
        using var timeline = JsonDocument.Parse(await api.GetStringAsync($"/v1/interviews/{id}/timeline"));
        var events = timeline.RootElement.GetProperty("events").EnumerateArray().ToList();
        Assert.Contains(events, e => e.GetProperty("kind").GetString() == TimelineKinds.ParticipantJoined && (e.GetProperty("detail").GetString() ?? "").Contains(candidate, StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e.GetProperty("kind").GetString() == TimelineKinds.ParticipantLeft);
        Assert.Equal("Active", (await system.GetInterviewAsync(id)).GetProperty("state").GetString());
        Assert.True(await page.Locator("#error").IsHiddenAsync());
    }

    [Fact]
    public async Task Candidate_page_falls_back_to_the_media_socket_when_livekit_is_unreachable()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        var page = await _browser.NewPageAsync();

        await page.GotoAsync($"{_system.BaseAddress}interview/{id}#token={token}&livekit={Uri.EscapeDataString("ws://127.0.0.1:1")}"); // nothing listens on port 1

        await page.WaitForFunctionAsync("() => { const s = document.getElementById('stats').dataset; return s.transport === 'socket' && +s.received >= 10; }",
            null, new() { Timeout = 30_000 });
        Assert.Single(_system.Sockets.Of(id));
        Assert.True(await page.Locator("#error").IsHiddenAsync());
    }

    [Fact]
    public async Task CandidatePage_connection_route_answers_the_candidate_token_only()
    {
        var (id, token) = await _system.CreateInterviewAsync();
        var (otherId, otherToken) = await _system.CreateInterviewAsync();
        using var http = new HttpClient { BaseAddress = _system.BaseAddress };
        async Task<HttpResponseMessage> Get(string session, string? bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/interviews/{session}/connection");
            if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            return await http.SendAsync(request);
        }

        using var ok = await Get(id, token);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("no-store", ok.Headers.CacheControl?.ToString());
        using var body = System.Text.Json.JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
        Assert.Equal(SessionIds.RoomName(id), body.RootElement.GetProperty("livekit").GetProperty("room").GetString());
        Assert.StartsWith("ws", body.RootElement.GetProperty("livekit").GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.False(body.RootElement.TryGetProperty("reconnect", out _)); // no failover happened
        // A LiveKit URL that is this gateway itself (the in-process stand-in without an SFU) speaks no signalling: use the socket.
        var livekitUrl = new Uri(body.RootElement.GetProperty("livekit").GetProperty("url").GetString()!);
        Assert.Equal(livekitUrl.Authority == _system.BaseAddress.Authority ? "socket" : "livekit", body.RootElement.GetProperty("transport").GetString());

        foreach (var (session, bearer, status) in new[]
        {
            (id, (string?)null, HttpStatusCode.Unauthorized),
            (id, "not-a-token", HttpStatusCode.Unauthorized),
            (id, otherToken, HttpStatusCode.Forbidden), // another interview's candidate
            (otherId, token, HttpStatusCode.Forbidden),
        })
        {
            using var refused = await Get(session, bearer);
            Assert.Equal(status, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task CandidatePage_serves_the_pinned_livekit_client_bundle_from_the_gateway_with_a_long_cache()
    {
        var (id, _) = await _system.CreateInterviewAsync();
        using var http = new HttpClient { BaseAddress = _system.BaseAddress };
        var html = await http.GetStringAsync($"/interview/{id}");
        var src = Regex.Match(html, "<script src=\"(/interview-assets/livekit-client\\.[0-9a-f]{16}\\.js)\"></script>");
        Assert.True(src.Success, "the page loads livekit-client from the gateway");
        Assert.DoesNotContain("cdn", html, StringComparison.OrdinalIgnoreCase);

        using var bundle = await http.GetAsync(src.Groups[1].Value);
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal("text/javascript", bundle.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=31536000, immutable", bundle.Headers.CacheControl?.ToString());
        var js = await bundle.Content.ReadAsStringAsync();
        Assert.Contains("LivekitClient", js, StringComparison.Ordinal);
        var pinned = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(JsonLineProcess.MediaDir, "package.json")))
            .RootElement.GetProperty("dependencies").GetProperty("livekit-client").GetString()!;
        Assert.Contains($"\"{pinned}\"", js, StringComparison.Ordinal); // the version the lock file pins, nothing fetched elsewhere

        using var stale = await http.GetAsync("/interview-assets/livekit-client.0000000000000000.js");
        Assert.Equal(HttpStatusCode.NotFound, stale.StatusCode);
        Assert.Equal("application/problem+json", stale.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Candidate_page_opened_from_the_create_response_loads_without_a_failed_request()
    {
        using var api = _system.Api();
        var created = await (await api.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-page", jobId = "job-1" })).Content.ReadFromJsonAsync<JsonElement>();
        var url = created.GetProperty("candidateUrl").GetString()!;
        var page = await _browser.NewPageAsync();
        var failed = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failed.Add($"{r.Status} {r.Url}"); };
        page.RequestFailed += (_, r) => failed.Add($"failed {r.Url}: {r.Failure}");

        await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.NetworkIdle });
        await page.WaitForFunctionAsync("() => +document.getElementById('stats').dataset.received >= 1", null, new() { Timeout = 30_000 });

        Assert.Empty(failed); // e.g. the favicon browsers ask for on their own
    }
}
