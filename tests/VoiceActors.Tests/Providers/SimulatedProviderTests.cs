using Microsoft.Extensions.Time.Testing;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>The simulated provider's randomness comes only from its seed, the session and the attempt: a run repeats exactly.</summary>
public sealed class SimulatedProviderTests
{
    private static async Task<string> ConnectPattern(int seed, string sessionId, double failureRate)
    {
        var provider = new SimulatedVoiceProvider("simulated", new SimulatedProviderOptions { Seed = seed, ConnectFailureRate = failureRate },
            new FakeTimeProvider());
        var pattern = new char[40];
        for (var attempt = 1; attempt <= pattern.Length; attempt++)
        {
            try
            {
                await using var connection = await provider.ConnectAsync(
                    new ProviderConnectRequest(sessionId, ProviderSettings.Default, [], attempt), new EventCollector(), CancellationToken.None);
                pattern[attempt - 1] = '.';
            }
            catch (ProviderException)
            {
                pattern[attempt - 1] = 'x';
            }
        }
        return new string(pattern);
    }

    [Fact]
    public async Task Injected_connect_failures_repeat_exactly_for_the_same_seed_and_session()
    {
        var first = await ConnectPattern(seed: 7, "session-a", failureRate: 0.5);
        var again = await ConnectPattern(seed: 7, "session-a", failureRate: 0.5);
        var otherSeed = await ConnectPattern(seed: 8, "session-a", failureRate: 0.5);
        var otherSession = await ConnectPattern(seed: 7, "session-b", failureRate: 0.5);

        Assert.Equal(first, again);
        Assert.NotEqual(first, otherSeed);
        Assert.NotEqual(first, otherSession);
        Assert.Contains('x', first);
        Assert.Contains('.', first);
    }

    [Fact]
    public async Task No_failure_rate_means_no_failures_and_fail_first_connects_fails_exactly_those()
    {
        Assert.Equal(new string('.', 40), await ConnectPattern(seed: 7, "s", failureRate: 0));
        var provider = new SimulatedVoiceProvider("simulated", new SimulatedProviderOptions { FailFirstConnects = 2 }, new FakeTimeProvider());
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var connect = provider.ConnectAsync(new ProviderConnectRequest("s", ProviderSettings.Default, [], attempt), new EventCollector(), CancellationToken.None);
            if (attempt <= 2) await Assert.ThrowsAsync<ProviderException>(() => connect);
            else await (await connect).DisposeAsync();
        }
    }
}
