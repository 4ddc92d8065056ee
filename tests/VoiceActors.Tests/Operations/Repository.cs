namespace VoiceActors.Tests.Operations;

/// <summary>Files of the repository the tests check (deploy/, rules), found from the test binaries upwards.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VoiceActors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No VoiceActors.sln above {AppContext.BaseDirectory}.");
    }
}
