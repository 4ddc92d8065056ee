using Microsoft.Extensions.Logging.Abstractions;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

/// <summary>The RoomService client on the wire: bodies the official protocol classes accept, responses they produce, and failure handling.</summary>
public sealed class RoomClientTests
{
    private const string Key = "APIclient";
    private const string Secret = "client-test-secret-long-enough-for-hs256-0123";

    private static LiveKitRoomClient Client(Uri url, int retries = 3, TimeSpan? requestTimeout = null) =>
        new(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, url, new LiveKitTokens(Key, Secret, TimeProvider.System),
            new LiveKitOptions { Url = url.ToString(), ApiKey = Key, ApiSecret = Secret, MaxRetries = retries, RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(2) },
            NullLogger.Instance, firstRetryDelay: TimeSpan.FromMilliseconds(10));

    [Fact]
    public async Task Request_bodies_parse_strictly_with_the_official_protocol_classes_and_official_responses_parse_in_our_client()
    {
        // Responses serialised by @livekit/protocol exactly as LiveKit's server writes them (proto names, every field emitted).
        var serialized = await NodeTools.RunAsync("serialize", new
        {
            messages = new object[]
            {
                new { type = "Room", json = new { sid = "RM_abc", name = "interview-1", emptyTimeout = 30, departureTimeout = 20, maxParticipants = 4,
                    creationTime = "1771351907", creationTimeMs = "1771351907123", metadata = "{\"sessionId\":\"1\"}", numParticipants = 2,
                    numPublishers = 1, activeRecording = true, version = new { unixMicro = "1771351848526591", ticks = 3 } } },
                new { type = "ListRoomsResponse", json = new { rooms = new[] { new { sid = "RM_abc", name = "interview-1", creationTime = "5" } } } },
                new { type = "ListParticipantsResponse", json = new { participants = new object[]
                {
                    new { sid = "PA_1", identity = "agent-s1", state = "ACTIVE", kind = "AGENT", joinedAt = "1771351907", joinedAtMs = "1771351907001",
                        attributes = new Dictionary<string, string> { ["voiceactors.role"] = "agent", ["snake_case_key"] = "kept" },
                        permission = new { canSubscribe = true, canPublish = true, agent = true } },
                    new { sid = "PA_2", identity = "candidate-c1", state = "JOINED", isPublisher = true },
                } } },
            },
        });
        var room = serialized[0].GetString()!;
        var rooms = serialized[1].GetString()!;
        var participants = serialized[2].GetString()!;
        Assert.Contains("\"creation_time\":\"1771351907\"", room); // int64 as a string, proto names: the real server's shape

        await using var server = await HttpRecorder.StartAsync(r => Task.FromResult<(int, string, string)>(r.Path[LiveKitRoomClient.PathPrefix.Length..] switch
        {
            "CreateRoom" or "UpdateRoomMetadata" => (200, "application/json", room),
            "ListRooms" => (200, "application/json", rooms),
            "ListParticipants" => (200, "application/json", participants),
            _ => (200, "application/json", "{}"),
        }));
        var client = Client(server.Url);

        var created = await client.CreateRoomAsync(new CreateRoomOptions("interview-1", 30, 4, "{\"sessionId\":\"1\"}"));
        Assert.Equal("RM_abc", created.Sid);
        Assert.Equal(1771351907L, created.CreationTime);
        Assert.Equal(1771351907123L, created.CreationTimeMs);
        Assert.Equal(30u, created.EmptyTimeout);
        Assert.True(created.ActiveRecording);
        Assert.Equal(5L, Assert.Single(await client.ListRoomsAsync(["interview-1"])).CreationTime);
        var people = await client.ListParticipantsAsync("interview-1");
        Assert.Equal(ParticipantKind.Agent, people[0].Kind);
        Assert.Equal(ParticipantState.Active, people[0].State);
        Assert.Equal("kept", people[0].Attributes["snake_case_key"]); // map keys are data: never renamed
        Assert.True(people[0].Permission!.Agent);
        Assert.Equal(ParticipantState.Joined, people[1].State);
        Assert.Equal("interview-1", (await client.UpdateRoomMetadataAsync("interview-1", "m2")).Name);
        await client.RemoveParticipantAsync("interview-1", "candidate-c1");
        await client.SendDataAsync("interview-1", "hello"u8.ToArray(), DataPacketKind.Reliable, ["agent-s1"], topic: "control");
        await client.DeleteRoomAsync("interview-1");

        var types = new Dictionary<string, string>
        {
            ["CreateRoom"] = "CreateRoomRequest", ["ListRooms"] = "ListRoomsRequest", ["ListParticipants"] = "ListParticipantsRequest",
            ["UpdateRoomMetadata"] = "UpdateRoomMetadataRequest", ["RemoveParticipant"] = "RoomParticipantIdentity",
            ["SendData"] = "SendDataRequest", ["DeleteRoom"] = "DeleteRoomRequest",
        };
        var sent = server.Requests.ToArray();
        Assert.Equal(types.Count, sent.Length);
        Assert.All(sent, r =>
        {
            Assert.Equal("POST", r.Method);
            Assert.StartsWith("application/json", r.ContentType);
            Assert.StartsWith("Bearer ", r.Authorization);
        });
        var parsed = await NodeTools.RunAsync("parse", new
        {
            messages = sent.Select(r => new { type = types[r.Path[LiveKitRoomClient.PathPrefix.Length..]], json = JsonDocument.Parse(r.Body).RootElement }).ToArray(),
        });
        var byType = sent.Select((r, i) => (Method: r.Path[LiveKitRoomClient.PathPrefix.Length..], Parsed: parsed[i])).ToDictionary(x => x.Method, x => x.Parsed);
        Assert.Equal("interview-1", byType["CreateRoom"].GetProperty("name").GetString());
        Assert.Equal(30, byType["CreateRoom"].GetProperty("empty_timeout").GetInt32());
        Assert.Equal(4, byType["CreateRoom"].GetProperty("max_participants").GetInt32());
        Assert.Equal("aGVsbG8=", byType["SendData"].GetProperty("data").GetString());
        Assert.Equal("control", byType["SendData"].GetProperty("topic").GetString());
        Assert.Equal("agent-s1", byType["SendData"].GetProperty("destination_identities")[0].GetString());
        Assert.Equal("candidate-c1", byType["RemoveParticipant"].GetProperty("identity").GetString());
    }

    [Fact]
    public async Task Each_call_carries_a_short_lived_token_with_only_the_grant_it_needs()
    {
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult((200, "application/json", "{\"participants\":[]}")));
        await Client(server.Url).ListParticipantsAsync("interview-7");
        var token = Assert.Single(server.Requests).Authorization!["Bearer ".Length..];
        var claims = new LiveKitTokens(Key, Secret, TimeProvider.System).Verify(token);
        Assert.Equal(new VideoGrant { RoomAdmin = true, Room = "interview-7" }, claims.Video with { CanPublishSources = null });
        Assert.InRange(claims.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10.1));
    }

    [Theory]
    [InlineData(401, "application/json", "{\"code\":\"unauthenticated\",\"msg\":\"permissions denied\"}", "unauthenticated")]
    [InlineData(401, "text/plain", "invalid authorization token", null)]
    [InlineData(400, "application/json", "{\"code\":\"invalid_argument\",\"msg\":\"name length exceeds limit\",\"meta\":{\"argument\":\"name\"}}", "invalid_argument")]
    [InlineData(404, "application/json", "{\"code\":\"not_found\",\"msg\":\"room not found\"}", "not_found")]
    public async Task A_4xx_answer_is_a_typed_error_and_never_retried(int status, string contentType, string body, string? code)
    {
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult((status, contentType, body)));
        var e = await Assert.ThrowsAsync<LiveKitRequestException>(() => Client(server.Url).ListParticipantsAsync("interview-1"));
        Assert.Equal(status, e.HttpStatus);
        Assert.Equal(code, e.TwirpCode);
        Assert.Single(server.Requests);
        Assert.DoesNotContain("Bearer", e.Message);
    }

    [Fact]
    public async Task A_5xx_answer_is_retried_then_reported_as_unavailable()
    {
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult((503, "application/json", "{\"code\":\"unavailable\",\"msg\":\"node draining\"}")));
        var e = await Assert.ThrowsAsync<LiveKitUnavailableException>(() => Client(server.Url, retries: 3).CreateRoomAsync(new CreateRoomOptions("r")));
        Assert.Equal(503, e.HttpStatus);
        Assert.Equal("unavailable", e.TwirpCode);
        Assert.Equal(4, server.Requests.Count); // first attempt + 3 retries
    }

    [Fact]
    public async Task A_transient_failure_that_clears_is_retried_to_success()
    {
        var calls = 0;
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult(Interlocked.Increment(ref calls) == 1
            ? (500, "application/json", "{\"code\":\"internal\",\"msg\":\"boom\"}")
            : (200, "application/json", "{\"sid\":\"RM_1\",\"name\":\"r\"}")));
        var room = await Client(server.Url).CreateRoomAsync(new CreateRoomOptions("r"));
        Assert.Equal("RM_1", room.Sid);
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task A_server_that_is_down_fails_fast_as_unavailable()
    {
        var closed = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<LiveKitUnavailableException>(() => Client(closed, retries: 2).CreateRoomAsync(new CreateRoomOptions("r")));
        Assert.Contains("cannot reach", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_server_that_never_answers_is_bounded_by_the_request_timeout_per_attempt()
    {
        var release = new TaskCompletionSource();
        await using var server = await HttpRecorder.StartAsync(async _ =>
        {
            await release.Task;
            return (200, "application/json", "{}");
        });
        try
        {
            var watch = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<LiveKitUnavailableException>(() =>
                Client(server.Url, retries: 1, requestTimeout: TimeSpan.FromMilliseconds(300)).CreateRoomAsync(new CreateRoomOptions("r")));
            Assert.Contains("no answer in time", e.Message);
            Assert.Equal(2, server.Requests.Count);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task A_caller_deadline_cuts_the_retries_short()
    {
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult((503, "text/plain", "overloaded")));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2)); // ample for the first attempt on a loaded machine
        var client = new LiveKitRoomClient(new HttpClient(), server.Url, new LiveKitTokens(Key, Secret, TimeProvider.System),
            new LiveKitOptions { Url = server.Url.ToString(), ApiKey = Key, ApiSecret = Secret, MaxRetries = 10 }, NullLogger.Instance,
            firstRetryDelay: TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.CreateRoomAsync(new CreateRoomOptions("r"), deadline.Token));
        Assert.Single(server.Requests);
    }
}
