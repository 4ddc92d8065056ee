namespace VoiceActors.Tests.Sessions;

public sealed class SessionLifecycleTests
{
    private static readonly (SessionStatus From, SessionStatus To)[] Expected =
    [
        (SessionStatus.Created, SessionStatus.Provisioning),
        (SessionStatus.Created, SessionStatus.Failed),
        (SessionStatus.Provisioning, SessionStatus.WaitingForParticipants),
        (SessionStatus.Provisioning, SessionStatus.Failed),
        (SessionStatus.Provisioning, SessionStatus.Expired),
        (SessionStatus.WaitingForParticipants, SessionStatus.Active),
        (SessionStatus.WaitingForParticipants, SessionStatus.Completed),
        (SessionStatus.WaitingForParticipants, SessionStatus.Failed),
        (SessionStatus.WaitingForParticipants, SessionStatus.Expired),
        (SessionStatus.Active, SessionStatus.Reconnecting),
        (SessionStatus.Active, SessionStatus.Completed),
        (SessionStatus.Active, SessionStatus.Failed),
        (SessionStatus.Active, SessionStatus.Expired),
        (SessionStatus.Reconnecting, SessionStatus.Active),
        (SessionStatus.Reconnecting, SessionStatus.Completed),
        (SessionStatus.Reconnecting, SessionStatus.Failed),
        (SessionStatus.Reconnecting, SessionStatus.Expired),
    ];

    public static TheoryData<SessionStatus, SessionStatus> AllPairs()
    {
        var data = new TheoryData<SessionStatus, SessionStatus>();
        foreach (var from in Enum.GetValues<SessionStatus>())
            foreach (var to in Enum.GetValues<SessionStatus>())
                data.Add(from, to);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Every_transition_is_allowed_exactly_when_the_design_allows_it(SessionStatus from, SessionStatus to)
    {
        var allowed = Expected.Contains((from, to));
        Assert.Equal(allowed, SessionLifecycle.CanMove(from, to));
        if (allowed)
        {
            SessionLifecycle.Ensure("s", from, to);
        }
        else
        {
            var e = Assert.Throws<InvalidSessionTransitionException>(() => SessionLifecycle.Ensure("s", from, to));
            Assert.Equal(from, e.From);
            Assert.Equal(to, e.To);
        }
    }

    [Fact]
    public void Terminal_states_allow_no_way_out()
    {
        foreach (var s in new[] { SessionStatus.Completed, SessionStatus.Failed, SessionStatus.Expired })
        {
            Assert.True(s.IsTerminal());
            Assert.Empty(SessionLifecycle.AllowedFrom(s));
        }
    }
}
