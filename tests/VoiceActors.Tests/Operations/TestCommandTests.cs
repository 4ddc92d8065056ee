namespace VoiceActors.Tests.Operations;

/// <summary>The test command (<c>test.sh</c>) runs on developers' machines: it must leave their own processes and services alone.</summary>
public sealed class TestCommandTests
{
    private static readonly string Script = File.ReadAllText(Repository.PathOf("test.sh"));

    [Fact]
    public void Test_command_kills_no_process_by_name()
    {
        // A name matches a developer's own Prometheus, Redis or PostgreSQL as well as anything the tests started.
        foreach (var broad in new[] { "pkill", "killall", "pgrep" })
            Assert.DoesNotContain(broad, Script, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_command_installs_packages_without_starting_their_daemons()
    {
        var install = Script.IndexOf("apt-get install", StringComparison.Ordinal);
        var policy = Script.IndexOf("policy-rc.d", StringComparison.Ordinal);
        Assert.True(install > 0, "test.sh installs what a fresh machine lacks");
        Assert.True(policy > 0 && policy < install, "a policy-rc.d that forbids service starts is in place before apt-get install");
        Assert.Contains("exit 101", Script, StringComparison.Ordinal);
    }
}
