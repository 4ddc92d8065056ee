using VoiceActors.LiveKit;

namespace VoiceActors.Tests.Sessions;

/// <summary>Shares one in-memory cluster with a fake clock; each test uses its own session ids.</summary>
public sealed class SessionClusterFixture : IAsyncLifetime
{
    public TestSilo Silo { get; private set; } = null!;

    public async Task InitializeAsync() => Silo = await TestSilo.StartAsync();

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}

public sealed class InterviewSessionGrainTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private const string Tenant = "tenant-a";
    private readonly TestSilo _silo = fixture.Silo;
    private readonly InterviewSessionOptions _options = new();

    private async Task<IInterviewSessionGrain> CreateAsync()
    {
        var grain = _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New());
        await grain.Create(SessionTestData.Command(Tenant));
        return grain;
    }

    private async Task<IInterviewSessionGrain> CreateActiveAsync()
    {
        var grain = await CreateAsync();
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        await grain.JoinAsync("agent-1", ParticipantRole.Agent);
        return grain;
    }

    [Fact]
    public async Task Created_session_waits_for_participants_with_its_details_stored()
    {
        var grain = await CreateAsync();
        var s = await grain.Get(Tenant);
        Assert.Equal(SessionStatus.WaitingForParticipants, s.Status);
        Assert.Equal("cand-1", s.CandidateId);
        Assert.Equal("job-1", s.JobId);
        Assert.Equal($"interview-{s.SessionId}", s.RoomName);
        Assert.True(s.Consent.Transcription);
        Assert.Equal(_silo.Clock.GetUtcNow(), s.CreatedAt);
        var kinds = (await grain.GetTimeline(Tenant)).Select(e => e.Kind).ToArray();
        Assert.Equal(TimelineKinds.Created, kinds[0]);
    }

    [Fact]
    public async Task Session_becomes_active_only_when_candidate_and_agent_are_both_in()
    {
        var grain = await CreateAsync();
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        Assert.Equal(SessionStatus.WaitingForParticipants, (await grain.Get(Tenant)).Status);
        await grain.JoinAsync("agent-1", ParticipantRole.Agent);
        var s = await grain.Get(Tenant);
        Assert.Equal(SessionStatus.Active, s.Status);
        Assert.NotNull(s.StartedAt);
    }

    [Fact]
    public async Task Candidate_dropping_makes_the_session_reconnect_and_rejoining_makes_it_active_again()
    {
        var grain = await CreateActiveAsync();
        await grain.LeaveAsync("candidate-1");
        Assert.Equal(SessionStatus.Reconnecting, (await grain.Get(Tenant)).Status);
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        Assert.Equal(SessionStatus.Active, (await grain.Get(Tenant)).Status);
    }

    [Fact]
    public async Task Completing_twice_is_refused_with_a_typed_error_and_changes_nothing()
    {
        var grain = await CreateActiveAsync();
        var first = await grain.Complete(Tenant, "finished");
        Assert.Equal(SessionStatus.Completed, first.Status);
        _silo.Clock.Advance(TimeSpan.FromMinutes(1));

        var e = await Assert.ThrowsAsync<InvalidSessionTransitionException>(() => grain.Complete(Tenant, "again"));
        Assert.Equal(SessionStatus.Completed, e.From);
        var after = await grain.Get(Tenant);
        Assert.Equal(first.EndedAt, after.EndedAt);
        Assert.Equal("finished", after.EndReason);
    }

    [Fact]
    public async Task Turns_are_refused_after_the_end_and_without_text()
    {
        var grain = await CreateActiveAsync();
        var now = _silo.Clock.GetUtcNow();
        await Assert.ThrowsAsync<RequestValidationException>(() => grain.RecordTurn(new Turn(ParticipantRole.Agent, " ", now, now)));
        await Assert.ThrowsAsync<RequestValidationException>(() => grain.RecordTurn(new Turn(ParticipantRole.Agent, "x", now, now.AddSeconds(-1))));
        await grain.Complete(Tenant, "done");
        await Assert.ThrowsAsync<InvalidSessionTransitionException>(() => grain.RecordTurn(new Turn(ParticipantRole.Agent, "late", now, now)));
        Assert.Equal(0, (await grain.Get(Tenant)).TurnCount);
    }

    [Fact]
    public async Task Session_past_its_maximum_duration_expires_itself()
    {
        var grain = await CreateActiveAsync();
        _silo.Clock.Advance(_options.MaxDuration - TimeSpan.FromSeconds(1));
        Assert.Equal(SessionStatus.Active, await grain.WatchdogTickAsync(Tenant));
        _silo.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(SessionStatus.Expired, await grain.WatchdogTickAsync(Tenant));
        Assert.Contains("maximum duration", (await grain.Get(Tenant)).EndReason);
    }

    [Fact]
    public async Task Session_left_empty_past_the_empty_timeout_expires_itself()
    {
        var grain = await CreateActiveAsync();
        await grain.LeaveAsync("candidate-1");
        await grain.LeaveAsync("agent-1");
        _silo.Clock.Advance(_options.EmptyTimeout - TimeSpan.FromSeconds(1));
        Assert.Equal(SessionStatus.Reconnecting, await grain.WatchdogTickAsync(Tenant));
        _silo.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(SessionStatus.Expired, await grain.WatchdogTickAsync(Tenant));
    }

    [Fact]
    public async Task Someone_rejoining_within_the_empty_timeout_keeps_the_session_alive()
    {
        var grain = await CreateActiveAsync();
        await grain.LeaveAsync("candidate-1");
        await grain.LeaveAsync("agent-1");
        _silo.Clock.Advance(_options.EmptyTimeout / 2);
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        _silo.Clock.Advance(_options.EmptyTimeout);
        Assert.Equal(SessionStatus.Reconnecting, await grain.WatchdogTickAsync(Tenant));
    }

    [Fact]
    public async Task Room_finished_completes_a_started_interview_and_expires_one_that_never_started()
    {
        var started = await CreateActiveAsync();
        await started.FinishRoomAsync();
        Assert.Equal(SessionStatus.Completed, (await started.Get(Tenant)).Status);

        var neverStarted = await CreateAsync();
        await neverStarted.FinishRoomAsync();
        Assert.Equal(SessionStatus.Expired, (await neverStarted.Get(Tenant)).Status);
    }

    [Fact]
    public async Task Another_tenant_cannot_see_or_end_the_session()
    {
        var grain = await CreateActiveAsync();
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Get("tenant-b"));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Complete("tenant-b", "hijack"));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.GetTurns("tenant-b"));
        Assert.Equal(SessionStatus.Active, (await grain.Get(Tenant)).Status);
    }

    [Fact]
    public async Task Invalid_create_is_refused_and_stores_nothing()
    {
        var grain = _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New());
        var e = await Assert.ThrowsAsync<RequestValidationException>(() => grain.Create(SessionTestData.Command(Tenant, candidate: "")));
        Assert.Equal("candidateId", e.Field);
        var badRubric = SessionTestData.Command(Tenant) with
        {
            Rubric = new Rubric([new RubricCriterion("depth", "", 0.5, []), new RubricCriterion("clarity", "", 0.3, [])]),
        };
        await Assert.ThrowsAsync<RequestValidationException>(() => grain.Create(badRubric));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Get(Tenant));
    }

    [Fact]
    public async Task Creating_an_existing_session_again_is_refused()
    {
        var grain = await CreateAsync();
        await Assert.ThrowsAsync<SessionAlreadyExistsException>(() => grain.Create(SessionTestData.Command(Tenant)));
    }

    [Fact]
    public async Task Unknown_session_is_not_found()
    {
        var grain = _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New());
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Get(Tenant));
        // A room event for a session that does not exist reports it unknown and creates nothing.
        Assert.Equal(RoomEventResult.UnknownSession, await grain.JoinAsync("x", ParticipantRole.Candidate));
        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Get(Tenant));
    }
}
