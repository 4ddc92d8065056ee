using VoiceActors.LoadTest.Cli;

namespace VoiceActors.LoadTest;

/// <summary>The load tester: parse options, run, write the JSON report and its Markdown summary, exit non-zero on a missed threshold.</summary>
public static class LoadTestProgram
{
    // Not top-level statements: those would add a global Program type that clashes with the silo's and the gateway's in the tests.
    public static Task<int> Main(string[] args) => new LoadTestCommand().Build(LiveRun.RunAsync).Parse(args).InvokeAsync();
}
