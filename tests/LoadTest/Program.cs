using VoiceActors.LoadTest.Cli;

// The load tester: parse options, run, write the JSON report and its Markdown summary, exit non-zero on a missed threshold.
return await new LoadTestCommand().Build(LiveRun.RunAsync).Parse(args).InvokeAsync();
