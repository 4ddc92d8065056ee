using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.LiveKit;

public sealed class StandInSiloFixture : IAsyncLifetime
{
    public TestSilo Silo { get; private set; } = null!;
    public LiveKitStandIn StandIn => Silo.Cluster.Silos[0].ServiceProvider.GetRequiredService<LiveKitStandIn>();
    public LiveKitTokens Tokens => new(LiveKitOptions.DevelopmentApiKey, LiveKitOptions.DevelopmentApiSecret, Silo.Clock);

    public async Task InitializeAsync() => Silo = await TestSilo.StartAsync();

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}

/// <summary>The session grain and its LiveKit room, on the embedded stand-in (same wire, same signed webhooks as production).</summary>
public sealed class SessionRoomTests(StandInSiloFixture fixture) : IClassFixture<StandInSiloFixture>
{
    private const string Tenant = "t1";

    internal static CreateSession Command(string candidate = "c1", string region = "local") =>
        new(Tenant, candidate, "job-1", ProviderSettings.Default, ConsentFlags.None, region, CandidateName: "Ada");

    private IInterviewSessionGrain Grain(string id) => fixture.Silo.Grains.GetGrain<IInterviewSessionGrain>(id);

    [Fact]
    public async Task Creating_a_session_provisions_its_room_and_returns_a_candidate_token_for_that_room_only()
    {
        var id = SessionIds.New();
        var snapshot = await Grain(id).Create(Command());
        Assert.Equal(SessionStatus.WaitingForParticipants, snapshot.Status);
        Assert.Equal(fixture.StandIn.PublicUrl, snapshot.LiveKitUrl);

        var room = Assert.Single(fixture.StandIn.Rooms, r => r.Name == SessionIds.RoomName(id));
        Assert.Equal(30u, room.EmptyTimeout);
        Assert.Equal(4u, room.MaxParticipants);
        Assert.Equal(id, JsonDocument.Parse(room.Metadata).RootElement.GetProperty("sessionId").GetString());

        var claims = fixture.Tokens.Verify(snapshot.CandidateToken);
        Assert.Equal(SessionIds.RoomName(id), claims.Room);
        Assert.Equal("candidate-c1", claims.Identity);
        Assert.Equal(ParticipantRole.Candidate, claims.Role);
        Assert.Null(claims.Video.RoomAdmin);
        Assert.Equal(snapshot.CreatedAt + TimeSpan.FromMinutes(90), claims.ExpiresAt); // bounded by the session's maximum duration

        var timeline = await Grain(id).GetTimeline(Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.RoomProvisioned && e.Detail!.Contains(room.Sid));
        Assert.Null((await Grain(id).Get(Tenant)).CandidateToken); // handed out once, at creation; never stored or re-read
    }

    [Fact]
    public async Task Signed_joins_of_candidate_and_agent_make_the_session_active_and_room_finished_ends_it()
    {
        var id = SessionIds.New();
        await Grain(id).Create(Command("c2"));
        var room = SessionIds.RoomName(id);

        await fixture.StandIn.SimulateParticipantAsync(room, LiveKitIdentities.Candidate("c2"), ParticipantRole.Candidate, joined: true);
        await fixture.StandIn.WaitForWebhooksAsync();
        Assert.Equal(SessionStatus.WaitingForParticipants, (await Grain(id).Get(Tenant)).Status);

        await fixture.StandIn.SimulateParticipantAsync(room, LiveKitIdentities.Agent(id), ParticipantRole.Agent, joined: true);
        await fixture.StandIn.WaitForWebhooksAsync();
        var active = await Grain(id).Get(Tenant);
        Assert.Equal(SessionStatus.Active, active.Status);
        Assert.Equal([ParticipantRole.Candidate, ParticipantRole.Agent], active.Participants.Select(p => p.Role));

        await fixture.StandIn.SimulateParticipantAsync(room, LiveKitIdentities.Candidate("c2"), ParticipantRole.Candidate, joined: false);
        await fixture.StandIn.WaitForWebhooksAsync();
        Assert.Equal(SessionStatus.Reconnecting, (await Grain(id).Get(Tenant)).Status);

        await fixture.StandIn.SimulateParticipantAsync(room, LiveKitIdentities.Candidate("c2"), ParticipantRole.Candidate, joined: true);
        await fixture.StandIn.WaitForWebhooksAsync();
        Assert.Equal(SessionStatus.Active, (await Grain(id).Get(Tenant)).Status);

        // LiveKit closes the room (here: an operator deletes it with the official API's DeleteRoom): room_finished ends the session.
        await fixture.StandIn.HandleAsync("POST", LiveKitRoomClient.PathPrefix + "DeleteRoom", "application/json",
            "Bearer " + fixture.Tokens.ForServer(new VideoGrant { RoomCreate = true }, TimeSpan.FromMinutes(1)),
            JsonSerializer.SerializeToUtf8Bytes(new { room }));
        await fixture.StandIn.WaitForWebhooksAsync();
        var ended = await Grain(id).Get(Tenant);
        Assert.Equal(SessionStatus.Completed, ended.Status);
        Assert.Equal("room finished", ended.EndReason);
    }

    [Fact]
    public async Task Completing_a_session_deletes_its_room()
    {
        var id = SessionIds.New();
        await Grain(id).Create(Command("c3"));
        Assert.Contains(fixture.StandIn.Rooms, r => r.Name == SessionIds.RoomName(id));
        await Grain(id).Complete(Tenant, "done");
        Assert.DoesNotContain(fixture.StandIn.Rooms, r => r.Name == SessionIds.RoomName(id));
    }

    [Fact]
    public async Task A_retried_webhook_event_is_applied_once()
    {
        var id = SessionIds.New();
        await Grain(id).Create(Command("c4"));
        var joined = new RoomEvent("EV_retry1", RoomEventKind.ParticipantJoined, "candidate-c4", ParticipantRole.Candidate);
        Assert.Equal(RoomEventResult.Applied, await Grain(id).RoomEvents().ApplyRoomEvent(joined));
        Assert.Equal(RoomEventResult.Duplicate, await Grain(id).RoomEvents().ApplyRoomEvent(joined));
        var left = new RoomEvent("EV_retry2", RoomEventKind.ParticipantLeft, "candidate-c4", ParticipantRole.Candidate);
        Assert.Equal(RoomEventResult.Applied, await Grain(id).RoomEvents().ApplyRoomEvent(left));
        Assert.Equal(RoomEventResult.Duplicate, await Grain(id).RoomEvents().ApplyRoomEvent(joined)); // a late retry must not bring the candidate back
        Assert.Empty((await Grain(id).Get(Tenant)).Participants);
        Assert.Single(await Grain(id).GetTimeline(Tenant), e => e.Kind == TimelineKinds.ParticipantJoined);
    }

    [Fact]
    public async Task Track_published_places_a_publisher_whose_join_was_lost_and_is_recorded_for_one_already_present()
    {
        var id = SessionIds.New();
        await Grain(id).Create(Command("c6"));
        await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_t1", RoomEventKind.ParticipantJoined, "candidate-c6", ParticipantRole.Candidate));
        Assert.Equal(RoomEventResult.Applied, await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_t2", RoomEventKind.TrackPublished, "candidate-c6", ParticipantRole.Candidate)));
        Assert.Equal(RoomEventResult.Applied, await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_t3", RoomEventKind.TrackPublished, $"agent-{id}", ParticipantRole.Agent)));
        var snapshot = await Grain(id).Get(Tenant);
        Assert.Equal(SessionStatus.Active, snapshot.Status); // the agent's missing join is inferred from its published track
        Assert.Single(await Grain(id).GetTimeline(Tenant), e => e.Kind == "track.published" && e.Detail == "candidate-c6");
        Assert.Equal(RoomEventResult.Ignored, await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_t4", RoomEventKind.ParticipantLeft, "candidate-nobody", ParticipantRole.Candidate)));
    }

    [Fact]
    public async Task A_webhook_for_an_unknown_session_creates_nothing()
    {
        var id = SessionIds.New();
        var result = await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_x", RoomEventKind.ParticipantJoined, "candidate-z", ParticipantRole.Candidate));
        Assert.Equal(RoomEventResult.UnknownSession, result);
        await Assert.ThrowsAsync<SessionNotFoundException>(() => Grain(id).Get(Tenant));
        Assert.DoesNotContain(fixture.StandIn.Rooms, r => r.Name == SessionIds.RoomName(id));
    }

    [Fact]
    public async Task Observer_token_is_subscribe_only_and_bounded_by_the_time_left()
    {
        var id = SessionIds.New();
        var created = await Grain(id).Create(Command("c5"));
        await Grain(id).RoomEvents().ApplyRoomEvent(new RoomEvent("EV_obs", RoomEventKind.ParticipantJoined, "candidate-c5", ParticipantRole.Candidate));
        fixture.Silo.Clock.Advance(TimeSpan.FromMinutes(60));
        var join = await Grain(id).IssueObserverToken(Tenant, "hr-lead");
        var claims = fixture.Tokens.Verify(join.Token);
        Assert.Equal(ParticipantRole.Observer, claims.Role);
        Assert.Equal("observer-hr-lead", claims.Identity);
        Assert.False(claims.Video.CanPublish);
        Assert.False(claims.Video.CanPublishData);
        Assert.True(claims.Video.Hidden);
        Assert.Equal(created.CreatedAt + TimeSpan.FromMinutes(90), claims.ExpiresAt);
        Assert.Equal(claims.ExpiresAt, join.ExpiresAt);

        await Assert.ThrowsAsync<SessionNotFoundException>(() => Grain(id).IssueObserverToken("other-tenant", "x"));
        await Assert.ThrowsAsync<RequestValidationException>(() => Grain(id).IssueObserverToken(Tenant, "bad id!"));
        await Grain(id).Complete(Tenant, "done");
        await Assert.ThrowsAsync<RequestValidationException>(() => Grain(id).IssueObserverToken(Tenant, "late"));
    }
}

/// <summary>LiveKit that is down or slow while a session is created: the session fails with a reason, within the bound.</summary>
public sealed class SessionRoomFailureTests
{
    [Fact]
    public async Task LiveKit_down_fails_the_session_with_a_reason_instead_of_hanging()
    {
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?>
        {
            ["LiveKit:Url"] = $"http://127.0.0.1:{FreePort.Next()}",
            ["LiveKit:ProvisionTimeout"] = "00:00:03",
        });
        var id = SessionIds.New();
        var watch = Stopwatch.StartNew();
        var snapshot = await silo.Grains.GetGrain<IInterviewSessionGrain>(id).Create(SessionRoomTests.Command());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.Equal(SessionStatus.Failed, snapshot.Status);
        Assert.Contains("LiveKit", snapshot.EndReason);
        Assert.Null(snapshot.CandidateToken);
    }

    [Fact]
    public async Task LiveKit_that_never_answers_fails_the_session_within_the_provision_bound()
    {
        var release = new TaskCompletionSource();
        await using var server = await HttpRecorder.StartAsync(async _ =>
        {
            await release.Task;
            return (200, "application/json", "{}");
        });
        try
        {
            await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?>
            {
                ["LiveKit:Url"] = server.Url.ToString(),
                ["LiveKit:RequestTimeout"] = "00:00:00.500",
                ["LiveKit:ProvisionTimeout"] = "00:00:01.500",
            });
            var watch = Stopwatch.StartNew();
            var snapshot = await silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New()).Create(SessionRoomTests.Command());
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
            Assert.Equal(SessionStatus.Failed, snapshot.Status);
            Assert.Contains("LiveKit", snapshot.EndReason);
            Assert.True(server.Requests.Count >= 2, "the timeouts were retried");
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task A_real_LiveKit_url_is_used_instead_of_the_stand_in()
    {
        await using var server = await HttpRecorder.StartAsync(_ => Task.FromResult((200, "application/json", "{\"sid\":\"RM_real\",\"name\":\"x\"}")));
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?>
        {
            ["LiveKit:Url"] = "wss://livekit.example.test",
            ["Silo:Region"] = "eu", // the silo must serve a configured region
            ["Regions:eu:LiveKit:Url"] = server.Url.ToString(),
            ["Regions:eu:LiveKit:ApiKey"] = "eu-key",
            ["Regions:eu:LiveKit:ApiSecret"] = "eu-secret-long-enough-for-hs256-0123456789",
        });
        var snapshot = await silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New()).Create(SessionRoomTests.Command(region: "eu"));
        Assert.Equal(SessionStatus.WaitingForParticipants, snapshot.Status);
        Assert.Equal(server.Url.ToString(), snapshot.LiveKitUrl);
        var request = Assert.Single(server.Requests);
        Assert.EndsWith("/CreateRoom", request.Path);
        Assert.Equal("eu-key", new LiveKitTokens("eu-key", "eu-secret-long-enough-for-hs256-0123456789", silo.Clock)
            .Verify(request.Authorization!["Bearer ".Length..]).Issuer);
        Assert.Empty(silo.Cluster.Silos[0].ServiceProvider.GetRequiredService<LiveKitStandIn>().Rooms);
    }
}

/// <summary>Webhook dedupe lives in the session's persisted state, so it holds across silos and restarts.</summary>
public sealed class RoomEventDedupeTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task A_webhook_retried_after_its_silo_stopped_is_still_applied_once_on_the_other_silo()
    {
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = _redis.ConnectionString }, silos: 2);
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        var joined = new RoomEvent("EV_restart", RoomEventKind.ParticipantJoined, "candidate-c1", ParticipantRole.Candidate);
        var created = await grain.Create(SessionRoomTests.Command());
        Assert.Equal(RoomEventResult.Applied, await grain.RoomEvents().ApplyRoomEvent(joined));

        var host = silo.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == created.Silo);
        await silo.Cluster.StopSiloAsync(host); // its memory, and anything it remembered only there, is gone

        Assert.Equal(RoomEventResult.Duplicate, await grain.RoomEvents().ApplyRoomEvent(joined));
        var snapshot = await grain.Get("t1");
        Assert.NotEqual(created.Silo, snapshot.Silo);
        Assert.Single(await grain.GetTimeline("t1"), e => e.Kind == TimelineKinds.ParticipantJoined);
    }
}
