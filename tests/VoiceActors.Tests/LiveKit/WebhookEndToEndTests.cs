using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>
/// The whole LiveKit flow over HTTP against the real silo program, with LiveKit's official Node SDK on the other side:
/// create an interview, join with an official-verified token, official-signed webhooks drive the session, bad webhooks bounce.
/// </summary>
public sealed class WebhookEndToEndTests(SiloProcessFixture silo) : IClassFixture<SiloProcessFixture>
{
    private const string Key = LiveKitOptions.DevelopmentApiKey;
    private const string Secret = LiveKitOptions.DevelopmentApiSecret;

    [Fact]
    public async Task Interview_yields_a_room_and_a_candidate_token_the_official_sdk_accepts_and_official_webhooks_make_it_active_then_end_it()
    {
        var (id, body) = await CreateInterviewAsync("cand-e2e");
        var livekit = body.GetProperty("livekit");
        // livekit.url is the stand-in SFU's signal URL, and the candidate's token opens it (LiveKit's /rtc/validate).
        var signal = new Uri(livekit.GetProperty("url").GetString()!);
        Assert.Equal(("ws", "127.0.0.1"), (signal.Scheme, signal.Host));
        using (var http = new HttpClient())
        {
            var validate = await http.GetAsync(new Uri($"http://127.0.0.1:{signal.Port}/rtc/validate?access_token={body.GetProperty("candidateToken").GetString()}"));
            Assert.Equal(HttpStatusCode.OK, validate.StatusCode);
        }
        var room = livekit.GetProperty("room").GetString()!;
        Assert.Equal($"interview-{id}", room);
        var claims = await NodeTools.RunAsync("verify", new { apiKey = Key, apiSecret = Secret, token = body.GetProperty("candidateToken").GetString() });
        Assert.Equal("candidate-cand-e2e", claims.GetProperty("sub").GetString());
        Assert.Equal(room, claims.GetProperty("video").GetProperty("room").GetString());

        Assert.Equal(HttpStatusCode.OK, (await PostOfficialWebhookAsync(Event("participant_joined", room, "EV_e2e_1", "candidate-cand-e2e"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostOfficialWebhookAsync(Event("participant_joined", room, "EV_e2e_2", "agent-x", kind: "AGENT"))).StatusCode);
        var active = await GetInterviewAsync(id);
        Assert.Equal("Active", active.GetProperty("state").GetString());
        Assert.Equal(["candidate-cand-e2e", "agent-x"], active.GetProperty("participants").EnumerateArray().Select(p => p.GetProperty("identity").GetString()));

        // LiveKit retries: the same event id again changes nothing.
        var retry = await PostOfficialWebhookAsync(Event("participant_joined", room, "EV_e2e_1", "candidate-cand-e2e"));
        Assert.Equal("duplicate", (await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString());

        Assert.Equal(HttpStatusCode.OK, (await PostOfficialWebhookAsync(Event("room_finished", room, "EV_e2e_3", null))).StatusCode);
        var ended = await GetInterviewAsync(id);
        Assert.Equal("Completed", ended.GetProperty("state").GetString());
        Assert.Equal("room finished", ended.GetProperty("endReason").GetString());
    }

    [Fact]
    public async Task Official_RoomServiceClient_drives_the_stand_in_and_its_room_finished_webhook_ends_the_session()
    {
        var crud = await NodeTools.RunAsync("roomService", new { host = silo.Url.ToString(), apiKey = Key, apiSecret = Secret, room = "ops-room", metadata = "m" });
        Assert.Equal("ops-room", crud.GetProperty("created").GetProperty("name").GetString());
        Assert.Equal(30, crud.GetProperty("created").GetProperty("emptyTimeout").GetInt32());
        Assert.Single(crud.GetProperty("listed").EnumerateArray());
        Assert.Equal("changed", crud.GetProperty("updated").GetProperty("metadata").GetString());
        Assert.Equal(0, crud.GetProperty("after").GetInt32());

        var denied = await NodeTools.RunAsync("roomServiceError", new { host = silo.Url.ToString(), apiKey = Key, apiSecret = Secret + "-wrong", room = "ops-room" });
        Assert.False(denied.GetProperty("ok").GetBoolean());
        Assert.Equal(401, denied.GetProperty("status").GetInt32());

        // An operator deletes an interview's room with the official SDK: the stand-in's signed room_finished reaches /livekit/webhook over HTTP.
        var (id, body) = await CreateInterviewAsync("cand-ops");
        var room = body.GetProperty("livekit").GetProperty("room").GetString()!;
        await NodeTools.RunAsync("deleteRoom", new { host = silo.Url.ToString(), apiKey = Key, apiSecret = Secret, room });
        // Delivery is asynchronous, as LiveKit's is: wait for it (bounded); the assertion below says what was seen.
        try { await Eventually.UntilAsync(async () => (await GetInterviewAsync(id)).GetProperty("state").GetString() == "Expired", TimeSpan.FromSeconds(10), () => "not expired"); }
        catch (TimeoutException) { }
        Assert.Equal("Expired", (await GetInterviewAsync(id)).GetProperty("state").GetString()); // never started, so the room closing expires it
    }

    [Fact]
    public async Task Unsigned_expired_wrong_key_tampered_and_mistyped_webhooks_get_401_and_change_nothing()
    {
        var (id, body) = await CreateInterviewAsync("cand-bad");
        var room = body.GetProperty("livekit").GetProperty("room").GetString()!;
        var join = Event("participant_joined", room, "EV_bad_1", "candidate-cand-bad");
        var signed = await SignAsync(join, Secret);

        var tampered = join.Replace("candidate-cand-bad", "candidate-intruder");
        var past = new LiveKitTokens(Key, Secret, new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1)));
        var attempts = new (string Name, string Body, string? Auth, string ContentType)[]
        {
            ("unsigned", join, null, "application/webhook+json"),
            ("garbage token", join, "not-a-jwt", "application/webhook+json"),
            ("wrong secret", join, await SignAsync(join, Secret + "-other"), "application/webhook+json"),
            ("unknown key", join, new LiveKitTokens("other-key", Secret, TimeProvider.System).ForWebhook(Encoding.UTF8.GetBytes(join)), "application/webhook+json"),
            ("expired", join, past.ForWebhook(Encoding.UTF8.GetBytes(join)), "application/webhook+json"),
            ("tampered body", tampered, signed, "application/webhook+json"),
            ("wrong content type", join, signed, "application/json"),
        };
        foreach (var (name, text, auth, contentType) in attempts)
        {
            var response = await PostWebhookAsync(text, auth, contentType);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {response.StatusCode}");
        }
        var unchanged = await GetInterviewAsync(id);
        Assert.Equal("WaitingForParticipants", unchanged.GetProperty("state").GetString());
        Assert.Empty(unchanged.GetProperty("participants").EnumerateArray());

        // The genuine one still goes through afterwards: nothing was burnt by the refused attempts.
        Assert.Equal(HttpStatusCode.OK, (await PostWebhookAsync(join, signed, "application/webhook+json")).StatusCode);
        Assert.Single((await GetInterviewAsync(id)).GetProperty("participants").EnumerateArray());
    }

    [Fact]
    public async Task Unknown_event_types_and_unknown_rooms_are_accepted_and_ignored_without_creating_anything()
    {
        var unknownType = await PostOfficialWebhookAsync("{\"event\":\"egress_ended\",\"id\":\"EV_u1\",\"createdAt\":\"1771351907\",\"egressInfo\":{\"egressId\":\"EG_1\"}}");
        Assert.Equal(HttpStatusCode.OK, unknownType.StatusCode);
        Assert.Equal("ignored", (await unknownType.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString());

        var ghost = Guid.NewGuid().ToString("N");
        var unknownRoom = await PostOfficialWebhookAsync(Event("participant_joined", $"interview-{ghost}", "EV_u2", "candidate-x"));
        Assert.Equal(HttpStatusCode.OK, unknownRoom.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync($"/v1/interviews/{ghost}")).StatusCode);

        var foreignRoom = await PostOfficialWebhookAsync(Event("room_finished", "someone-elses-room", "EV_u3", null));
        Assert.Equal(HttpStatusCode.OK, foreignRoom.StatusCode);
    }

    [Fact]
    public async Task Observer_token_route_returns_a_subscribe_only_token_for_that_room()
    {
        var (id, body) = await CreateInterviewAsync("cand-obs");
        var response = await silo.Http.PostAsJsonAsync($"/v1/interviews/{id}/observer-token", new { observerId = "hr-1" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var join = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("observer-hr-1", join.GetProperty("identity").GetString());
        var claims = await NodeTools.RunAsync("verify", new { apiKey = Key, apiSecret = Secret, token = join.GetProperty("token").GetString() });
        Assert.Equal(body.GetProperty("livekit").GetProperty("room").GetString(), claims.GetProperty("video").GetProperty("room").GetString());
        Assert.False(claims.GetProperty("video").GetProperty("canPublish").GetBoolean());

        using var anonymous = new HttpClient { BaseAddress = silo.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync($"/v1/interviews/{id}/observer-token", new { observerId = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.PostAsJsonAsync($"/v1/interviews/{Guid.NewGuid():N}/observer-token", new { observerId = "x" })).StatusCode);
    }

    private async Task<(string Id, JsonElement Body)> CreateInterviewAsync(string candidate)
    {
        var response = await silo.Http.PostAsJsonAsync("/v1/interviews", new { candidateId = candidate, jobId = "job-1" });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("sessionId").GetString()!, body);
    }

    private async Task<JsonElement> GetInterviewAsync(string id) => await silo.Http.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");

    /// <summary>A WebhookEvent as LiveKit's server writes it (protojson: camelCase, defaults omitted, int64 as strings).</summary>
    private static string Event(string name, string room, string eventId, string? identity, string kind = "STANDARD")
    {
        var participant = identity is null ? "" :
            $",\"participant\":{{\"sid\":\"PA_{eventId}\",\"identity\":\"{identity}\",\"state\":\"ACTIVE\",\"joinedAt\":\"1771351907\",\"kind\":\"{kind}\"}}";
        return $"{{\"event\":\"{name}\",\"room\":{{\"sid\":\"RM_1\",\"name\":\"{room}\",\"emptyTimeout\":30,\"creationTime\":\"1771351900\"}}{participant},\"id\":\"{eventId}\",\"createdAt\":\"1771351907\"}}";
    }

    private static async Task<string> SignAsync(string body, string secret) =>
        (await NodeTools.RunAsync("signWebhook", new { apiKey = Key, apiSecret = secret, body })).GetProperty("token").GetString()!;

    private async Task<HttpResponseMessage> PostOfficialWebhookAsync(string body) =>
        await PostWebhookAsync(body, await SignAsync(body, Secret), "application/webhook+json");

    private async Task<HttpResponseMessage> PostWebhookAsync(string body, string? authorization, string contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/livekit/webhook")
        {
            Content = new StringContent(body, Encoding.UTF8, contentType),
        };
        request.Headers.Authorization = null;
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization); // raw JWT, as LiveKit sends it
        using var anonymous = new HttpClient { BaseAddress = silo.Url };
        return await anonymous.SendAsync(request);
    }
}

/// <summary>The silo program configured with a LiveKit URL where nothing listens.</summary>
public sealed class UnreachableLiveKitSiloFixture : SiloProcessFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
        [new("LiveKit:Url", $"http://127.0.0.1:{FreePort.Next()}"), new("LiveKit:ProvisionTimeout", "00:00:02")];
}

public sealed class UnreachableLiveKitTests(UnreachableLiveKitSiloFixture silo) : IClassFixture<UnreachableLiveKitSiloFixture>
{
    [Fact]
    public async Task Creating_an_interview_while_LiveKit_is_down_answers_503_with_the_failed_session_id_within_the_bound()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var response = await silo.Http.PostAsJsonAsync("/v1/interviews", new { candidateId = "c-down", jobId = "job-1" });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(6), $"took {watch.Elapsed}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("LiveKit", problem.GetProperty("detail").GetString());
        var id = problem.GetProperty("sessionId").GetString();
        var session = await silo.Http.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");
        Assert.Equal("Failed", session.GetProperty("state").GetString());
        Assert.DoesNotContain("candidateToken", await response.Content.ReadAsStringAsync());
    }
}
