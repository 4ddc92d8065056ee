using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>The stand-in speaks LiveKit's wire: its answers and webhooks are what the official libraries expect, and it refuses what LiveKit refuses.</summary>
public sealed class StandInWireTests : IAsyncLifetime
{
    private const string Key = LiveKitOptions.DevelopmentApiKey;
    private const string Secret = LiveKitOptions.DevelopmentApiSecret;
    private readonly LiveKitTokens _tokens = new(Key, Secret, TimeProvider.System);
    private LiveKitStandIn _standIn = null!;

    public Task InitializeAsync()
    {
        _standIn = new LiveKitStandIn(Options.Create(new LiveKitOptions()), TimeProvider.System,
            new ServiceCollection().BuildServiceProvider(), NullLogger<LiveKitStandIn>.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _standIn.DisposeAsync();

    [Fact]
    public async Task Twirp_answers_parse_strictly_with_the_official_protocol_classes()
    {
        var created = await CallAsync("CreateRoom", new VideoGrant { RoomCreate = true }, new { name = "interview-w1", empty_timeout = 30, maxParticipants = 4, metadata = "m" });
        Assert.Equal(200, created.Status);
        var room = JsonDocument.Parse(created.Body).RootElement;
        Assert.Equal(JsonValueKind.String, room.GetProperty("creation_time").ValueKind); // int64 as string, proto names
        Assert.Equal(JsonValueKind.Null, room.GetProperty("version").ValueKind);          // unset message: null, emitted
        await _standIn.SimulateParticipantAsync("interview-w1", "agent-s1", ParticipantRole.Agent, joined: true);
        var listed = await CallAsync("ListParticipants", new VideoGrant { RoomAdmin = true, Room = "interview-w1" }, new { room = "interview-w1" });
        var rooms = await CallAsync("ListRooms", new VideoGrant { RoomList = true }, new { });

        var parsed = await NodeTools.RunAsync("parse", new
        {
            messages = new object[]
            {
                new { type = "Room", json = room },
                new { type = "ListParticipantsResponse", json = JsonDocument.Parse(listed.Body).RootElement },
                new { type = "ListRoomsResponse", json = JsonDocument.Parse(rooms.Body).RootElement },
            },
        });
        Assert.Equal(30, parsed[0].GetProperty("empty_timeout").GetInt32());
        var agent = parsed[1].GetProperty("participants")[0];
        Assert.Equal("AGENT", agent.GetProperty("kind").GetString());
        Assert.Equal("ACTIVE", agent.GetProperty("state").GetString());
        Assert.Equal("interview-w1", parsed[2].GetProperty("rooms")[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Its_webhooks_are_accepted_by_the_official_WebhookReceiver_and_parse_strictly()
    {
        var received = new List<HttpRecorder.Request>();
        await using var sink = await HttpRecorder.StartAsync(_ => Task.FromResult((200, "application/json", "{}")));
        _standIn.BindToHttp(sink.Url);
        await _standIn.SimulateParticipantAsync("interview-w2", "candidate-c1", ParticipantRole.Candidate, joined: true);
        await _standIn.SimulateParticipantAsync("interview-w2", "candidate-c1", ParticipantRole.Candidate, joined: false);
        await _standIn.WaitForWebhooksAsync();

        var hooks = sink.Requests.ToArray();
        Assert.Equal(["room_started", "participant_joined", "participant_left"], hooks.Select(h => JsonDocument.Parse(h.Body).RootElement.GetProperty("event").GetString()));
        foreach (var hook in hooks)
        {
            Assert.Equal("/livekit/webhook", hook.Path);
            Assert.Equal("application/webhook+json", hook.ContentType);
            Assert.False(hook.Authorization!.StartsWith("Bearer"), "LiveKit sends the raw token");
            var ev = await NodeTools.RunAsync("receiveWebhook", new { apiKey = Key, apiSecret = Secret, body = hook.Text, authorization = hook.Authorization });
            Assert.StartsWith("EV_", ev.GetProperty("id").GetString());
            await NodeTools.RunAsync("parse", new { messages = new[] { new { type = "WebhookEvent", json = JsonDocument.Parse(hook.Body).RootElement } } });
        }
        var joined = await NodeTools.RunAsync("receiveWebhook", new { apiKey = Key, apiSecret = Secret, body = hooks[1].Text, authorization = hooks[1].Authorization });
        Assert.Equal("candidate-c1", joined.GetProperty("participant").GetProperty("identity").GetString());

        var tampered = hooks[1].Text.Replace("candidate-c1", "candidate-c2");
        var (ok, error) = await NodeTools.TryRunAsync("receiveWebhook", new { apiKey = Key, apiSecret = Secret, body = tampered, authorization = hooks[1].Authorization });
        Assert.False(ok);
        Assert.Contains("sha256", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Webhook_delivery_retries_a_failing_receiver_but_not_one_that_refuses()
    {
        var calls = 0;
        await using var flaky = await HttpRecorder.StartAsync(_ => Task.FromResult(Interlocked.Increment(ref calls) == 1
            ? (503, "text/plain", "restarting")
            : (200, "application/json", "{}")));
        _standIn.BindToHttp(flaky.Url);
        await _standIn.SimulateParticipantAsync("interview-w4", "candidate-c1", ParticipantRole.Candidate, joined: true); // room_started + joined
        await _standIn.WaitForWebhooksAsync();
        Assert.Equal(3, flaky.Requests.Count); // the first attempt failed with 503 and was retried
        Assert.Equal(flaky.Requests.First().Text, flaky.Requests.Skip(1).First().Text); // the same event, byte for byte

        await using var refusing = await HttpRecorder.StartAsync(_ => Task.FromResult((401, "text/plain", "no")));
        _standIn.BindToHttp(refusing.Url);
        await _standIn.SimulateParticipantAsync("interview-w4", "candidate-c1", ParticipantRole.Candidate, joined: false);
        await _standIn.WaitForWebhooksAsync();
        Assert.Single(refusing.Requests); // 4xx: not retried, as LiveKit's notifier does
    }

    [Fact]
    public async Task It_refuses_what_LiveKit_refuses()
    {
        var body = Encoding.UTF8.GetBytes("{\"room\":\"interview-w3\"}");
        var path = LiveKitRoomClient.PathPrefix + "ListParticipants";
        var noToken = await _standIn.HandleAsync("POST", path, "application/json", null, body);
        Assert.Equal((401, "{\"code\":\"unauthenticated\",\"msg\":\"permissions denied\"}"), (noToken.Status, Encoding.UTF8.GetString(noToken.Body)));

        var otherRoom = await _standIn.HandleAsync("POST", path, "application/json",
            "Bearer " + _tokens.ForServer(new VideoGrant { RoomAdmin = true, Room = "interview-other" }, TimeSpan.FromMinutes(1)), body);
        Assert.Equal(401, otherRoom.Status);
        Assert.Contains("unauthenticated", Encoding.UTF8.GetString(otherRoom.Body));

        var participantToken = await _standIn.HandleAsync("POST", LiveKitRoomClient.PathPrefix + "CreateRoom", "application/json",
            "Bearer " + _tokens.ForParticipant("interview-w3", "candidate-c1", ParticipantRole.Candidate, TimeSpan.FromMinutes(1)), body);
        Assert.Equal(401, participantToken.Status); // a candidate's token cannot create rooms

        var badScheme = await _standIn.HandleAsync("POST", path, "application/json", "Basic abc", body);
        Assert.Equal((401, "text/plain; charset=utf-8"), (badScheme.Status, badScheme.ContentType));
        var forged = await _standIn.HandleAsync("POST", path, "application/json",
            "Bearer " + new LiveKitTokens(Key, Secret + "-x", TimeProvider.System).ForServer(new VideoGrant { RoomAdmin = true, Room = "interview-w3" }, TimeSpan.FromMinutes(1)), body);
        Assert.Equal(401, forged.Status);
        Assert.StartsWith("invalid authorization token", Encoding.UTF8.GetString(forged.Body));

        var admin = "Bearer " + _tokens.ForServer(new VideoGrant { RoomAdmin = true, Room = "interview-w3", RoomCreate = true }, TimeSpan.FromMinutes(1));
        var get = await _standIn.HandleAsync("GET", path, "application/json", admin, body);
        Assert.Equal((404, "bad_route"), (get.Status, Code(get)));
        var unknown = await _standIn.HandleAsync("POST", LiveKitRoomClient.PathPrefix + "Nope", "application/json", admin, body);
        Assert.Equal((404, "bad_route"), (unknown.Status, Code(unknown)));
        var text = await _standIn.HandleAsync("POST", path, "text/plain", admin, body);
        Assert.Equal((404, "bad_route"), (text.Status, Code(text)));
        var malformed = await _standIn.HandleAsync("POST", path, "application/json", admin, "{\"room\":"u8.ToArray());
        Assert.Equal((400, "malformed"), (malformed.Status, Code(malformed)));
        var longName = await CallAsync("CreateRoom", new VideoGrant { RoomCreate = true }, new { name = new string('x', 300) });
        Assert.Equal((400, "invalid_argument"), (longName.Status, Code(longName)));

        await CallAsync("CreateRoom", new VideoGrant { RoomCreate = true }, new { name = "interview-w3" });
        var badNonce = await CallAsync("SendData", new VideoGrant { RoomAdmin = true, Room = "interview-w3" }, new { room = "interview-w3", data = "aGk=", nonce = "AAEC" });
        Assert.Equal((400, "invalid_argument"), (badNonce.Status, Code(badNonce)));
        var goodNonce = await CallAsync("SendData", new VideoGrant { RoomAdmin = true, Room = "interview-w3" },
            new { room = "interview-w3", data = "aGk=", nonce = Convert.ToBase64String(new byte[16]) });
        Assert.Equal(200, goodNonce.Status);
        var missing = await CallAsync("DeleteRoom", new VideoGrant { RoomCreate = true }, new { room = "interview-none" });
        Assert.Equal((404, "not_found"), (missing.Status, Code(missing)));
    }

    [Fact]
    public void Region_settings_override_the_top_level_LiveKit_section_field_by_field()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LiveKit:ApiKey"] = "top-key",
            ["LiveKit:ApiSecret"] = "top-secret-long-enough-for-hs256-0123456789",
            ["Regions:eu:LiveKit:Url"] = "wss://eu.livekit.example",
            ["Regions:eu:LiveKit:ApiKey"] = "eu-key",
            ["Regions:eu:LiveKit:ApiSecret"] = "eu-secret-long-enough-for-hs256-0123456789",
            ["Regions:us:Something"] = "no LiveKit section",
        }).Build();
        using var directory = new LiveKitDirectory(config, new FakeTimeProvider(), NullLoggerFactory.Instance, _standIn);
        var eu = directory.For("eu");
        Assert.Equal("wss://eu.livekit.example", eu.PublicUrl);
        Assert.Null(eu.StandIn);
        Assert.Equal("eu-key", eu.Tokens.ApiKey);
        Assert.Equal(new Uri("https://eu.livekit.example/"), eu.Rooms.BaseUri);
        var us = directory.For("us");
        Assert.Same(_standIn, us.StandIn); // no URL anywhere for us: the stand-in, with the top-level key
        Assert.Equal("top-key", us.Tokens.ApiKey);
        Assert.Same(eu.Tokens, directory.TokensForApiKey("eu-key"));
        Assert.Equal(["", "eu"], directory.ConfiguredRegions());

        var bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Regions:ap:LiveKit:ApiSecret"] = "short" }).Build();
        var e = Assert.Throws<OptionsValidationException>(() => new LiveKitDirectory(bad, TimeProvider.System, NullLoggerFactory.Instance, _standIn));
        Assert.Contains("Regions:ap:LiveKit:ApiSecret", e.Message);
    }

    private Task<StandInResponse> CallAsync(string method, VideoGrant grant, object body) =>
        _standIn.HandleAsync("POST", LiveKitRoomClient.PathPrefix + method, "application/json; charset=utf-8",
            "Bearer " + _tokens.ForServer(grant, TimeSpan.FromMinutes(1)), JsonSerializer.SerializeToUtf8Bytes(body));

    private static string? Code(StandInResponse r) => JsonDocument.Parse(r.Body).RootElement.GetProperty("code").GetString();
}
