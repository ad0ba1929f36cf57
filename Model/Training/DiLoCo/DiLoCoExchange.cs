using Azure.Storage.Blobs;
using Platform.Datasets;

namespace Platform.Model.Training.DiLoCo;

/// <summary>
/// What the replicas and the coordinator of a multi-trainer run share: the pseudo-gradient chunks of each round, the
/// weights that start each round, the rounds' records, and the outer state and every replica's inner state at the round
/// boundaries where the run checkpoints. It lies in a store of named files (see
/// <see cref="IDatasetStore"/>): the run's checkpoint folder (<c>FOLDER/diloco</c>), or, for a run checkpointing to a blob
/// container, a prefix of that container (<c>prefix/diloco/...</c>), so that silos with no folder in common train one run.
/// Every file becomes visible whole; a thing of several files (a state folder) is visible only once the small
/// <c>latest</c> file naming it is written after them, and readers read only what a <c>latest</c> names.
/// Layout: <c>round-RRRRRR/rank-K/chunk-NNNNNN.bin</c> (and <c>.../initial/...</c> in round 0), <c>outer/step-R/...</c> with
/// <c>outer/latest</c> naming the newest saved whole (a round that does not checkpoint publishes only <c>outer/step-R/weights.bin</c>),
/// <c>rounds.json</c>, <c>replica-K/round-RRRRRR/step-S/...</c> with <c>replica-K/round-RRRRRR/latest</c>.
/// </summary>
public sealed class DiLoCoExchange(IDatasetStore store)
{
    public const string OuterFolder = "outer";
    public const string HistoryFile = "rounds.json";

    /// <summary>Where the run whose checkpoints go to <paramref name="checkpointLocation"/> (a folder or a blob container URL) exchanges.</summary>
    public static string LocationFor(string checkpointLocation)
    {
        if (!BlobCheckpointStore.IsBlobLocation(checkpointLocation)) return Path.Combine(checkpointLocation, "diloco");
        var url = new UriBuilder(checkpointLocation);
        url.Path = url.Path.TrimEnd('/') + "/diloco";
        return url.Uri.ToString();
    }

    /// <summary>The exchange at <paramref name="location"/>: a folder path, or a blob URL in <paramref name="account"/> (its container is created when missing).</summary>
    public static async Task<DiLoCoExchange> OpenAsync(string location, BlobServiceClient? account, CancellationToken cancellationToken) =>
        new(await DatasetTarget.OpenWithClientAsync(location, account, cancellationToken));

    public static DiLoCoExchange InFolder(string folder) => new(new LocalDatasetFolder(folder));

    /// <summary>The folder path or container URL, for messages.</summary>
    public string Location => store.Location;

    public static string RoundFolder(int round) => $"round-{round:D6}/";

    public static string RankFolder(int round, int rank) => $"{RoundFolder(round)}rank-{rank}/";

    /// <summary>Round 0's start weights as <paramref name="rank"/> drew them: every replica draws alike, the coordinator takes one.</summary>
    public static string InitialFolder(int round, int rank) => $"{RankFolder(round, rank)}initial/";

    /// <summary>Writes <paramref name="name"/> whole through <paramref name="write"/>; readers see the old content or the new, never part.</summary>
    public async Task PutAsync(string name, Action<Stream> write, CancellationToken cancellationToken)
    {
        var partial = store.OpenPartial(name);
        try
        {
            write(partial);
        }
        catch
        {
            // Never published, so never seen; a folder's partial file would otherwise stay behind as litter.
            string? leftover = (partial as FileStream)?.Name;
            await partial.DisposeAsync();
            if (leftover is not null) File.Delete(leftover);
            throw;
        }
        await store.PublishAsync(partial, name, cancellationToken);
    }

    public Task PutAsync(string name, byte[] content, CancellationToken cancellationToken) =>
        PutAsync(name, stream => stream.Write(content), cancellationToken);

    /// <summary>The content of <paramref name="name"/>, or null when there is none (never written, or deleted meanwhile).</summary>
    public async Task<byte[]?> GetAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await store.ReadAsync(name, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// <paramref name="name"/> to read as it streams in, without holding it whole (a folder's file, a blob read in blocks),
    /// or null when there is none.
    /// </summary>
    public Stream? OpenRead(string name)
    {
        try
        {
            return store.OpenRead(name);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The names of every file starting with <paramref name="prefix"/>.</summary>
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) => store.ListAsync(prefix, cancellationToken);

    /// <summary>Deletes every file starting with <paramref name="prefix"/> (a folder when it ends with '/').</summary>
    public Task DeleteAsync(string prefix, CancellationToken cancellationToken) => store.DeleteAsync(prefix, cancellationToken);

    /// <summary>Writes chunks as the numbered files of <paramref name="folder"/> and returns how many.</summary>
    public async Task<int> PutChunksAsync(string folder, IEnumerable<byte[]> chunks, CancellationToken cancellationToken)
    {
        int count = 0;
        foreach (byte[] chunk in chunks) await PutAsync(folder + ChunkFileName(count++), chunk, cancellationToken);
        return count;
    }

    /// <summary>The chunks 0 to <paramref name="count"/> − 1 that <see cref="PutChunksAsync"/> wrote.</summary>
    public async IAsyncEnumerable<byte[]> GetChunksAsync(string folder, int count, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
            yield return await GetAsync(folder + ChunkFileName(i), cancellationToken)
                ?? throw new FileNotFoundException($"{Location}: chunk {i} of {folder} is missing.");
    }

    private static string ChunkFileName(int index) => $"chunk-{index:D6}.bin";

    /// <summary>
    /// Publishes a state folder of several files as <see cref="Checkpoint"/> lays one out: the files under
    /// <c>folder/step-S/</c>, then <c>folder/latest</c> naming it, so that a reader following <c>latest</c> finds every file.
    /// </summary>
    public async Task PutStateAsync(string folder, int step, IEnumerable<(string File, Action<Stream> Write)> files, CancellationToken cancellationToken)
    {
        string stepFolder = In(folder, Checkpoint.FolderName(step)) + "/";
        foreach (var (file, write) in files) await PutAsync(stepFolder + file, write, cancellationToken);
        await PutAsync(In(folder, Checkpoint.LatestFile), System.Text.Encoding.UTF8.GetBytes(Checkpoint.FolderName(step)), cancellationToken);
    }

    /// <summary>Publishes a checkpoint folder saved on this machine (<c>.../step-S</c>) under <paramref name="folder"/>, as <see cref="PutStateAsync"/>.</summary>
    public Task PutStateFromAsync(string folder, string localStepFolder, CancellationToken cancellationToken) =>
        PutStateAsync(folder, StepOf(Path.GetFileName(Path.TrimEndingDirectorySeparator(localStepFolder)))
            ?? throw new ArgumentException($"{localStepFolder} is not a checkpoint folder (step-XXXXXXXX)."),
            Directory.EnumerateFiles(localStepFolder).Select(file => (Path.GetFileName(file), (Action<Stream>)(stream =>
            {
                using var source = File.OpenRead(file);
                source.CopyTo(stream);
            }))), cancellationToken);

    /// <summary>
    /// Publishes the checkpoint that <paramref name="save"/> writes (as <see cref="Checkpoint.Save"/> lays one out, returning its
    /// step folder) as the state folder <paramref name="folder"/>. A folder exchange has that very layout, so the checkpoint is
    /// saved straight into it; other stores get it through <paramref name="scratch"/>, a folder of this machine.
    /// </summary>
    public async Task PutCheckpointAsync(string folder, Func<string, string> save, string scratch, CancellationToken cancellationToken)
    {
        if (store is LocalDatasetFolder local)
        {
            save(Path.Combine(local.Root, folder.Replace('/', Path.DirectorySeparatorChar)));
            return;
        }
        string staging = Path.Combine(scratch, $"put-{Guid.NewGuid():N}");
        try
        {
            await PutStateFromAsync(folder, save(staging), cancellationToken);
        }
        finally
        {
            LocalScratch.TryDelete(staging);
        }
    }

    /// <summary>The step of the state <c>folder/latest</c> names, or null when none was published.</summary>
    public async Task<int?> LatestStepAsync(string folder, CancellationToken cancellationToken) =>
        await GetAsync(In(folder, Checkpoint.LatestFile), cancellationToken) is { } latest
            ? StepOf(System.Text.Encoding.UTF8.GetString(latest).Trim()) ?? throw new InvalidDataException($"{Location}: {In(folder, Checkpoint.LatestFile)} names no step folder.")
            : null;

    /// <summary>The file of the state of <paramref name="step"/> in <paramref name="folder"/>, or null when it is gone.</summary>
    public Task<byte[]?> GetStateFileAsync(string folder, int step, string file, CancellationToken cancellationToken) =>
        GetAsync($"{In(folder, Checkpoint.FolderName(step))}/{file}", cancellationToken);

    /// <summary>
    /// Copies the newest state of <paramref name="folder"/> (only <paramref name="files"/> of it, when given) into a run folder
    /// of this machine, published there as <see cref="Checkpoint.Save"/> publishes, and returns that run folder; null when
    /// no state was published or it vanished while it was copied.
    /// </summary>
    public async Task<string?> DownloadLatestStateAsync(string folder, string localRunDirectory, CancellationToken cancellationToken, IReadOnlyCollection<string>? files = null)
    {
        if (await LatestStepAsync(folder, cancellationToken) is not int step) return null;
        string stepFolder = In(folder, Checkpoint.FolderName(step)) + "/";
        var contents = new List<(string File, byte[] Content)>();
        foreach (string name in await ListAsync(stepFolder, cancellationToken))
        {
            string file = name[stepFolder.Length..];
            if (file.Contains('/') || files is not null && !files.Contains(file)) continue;
            if (await GetAsync(name, cancellationToken) is not { } content) return null;
            contents.Add((file, content));
        }
        if (contents.Count == 0) return null;
        Checkpoint.Save(localRunDirectory, step, local =>
        {
            foreach (var (file, content) in contents) File.WriteAllBytes(Path.Combine(local, file), content);
        });
        return localRunDirectory;
    }

    /// <summary>The steps of the states saved in <paramref name="folder"/>, ascending.</summary>
    public async Task<IReadOnlyList<int>> StateStepsAsync(string folder, CancellationToken cancellationToken) =>
        [.. (await ListAsync(In(folder, "step-"), cancellationToken))
            .Select(name => StepOf(name[In(folder, "").Length..].Split('/')[0]))
            .OfType<int>().Distinct().Order()];

    /// <summary>Deletes the states of <paramref name="folder"/> before <paramref name="step"/>, except that of <paramref name="keep"/>.</summary>
    public async Task DeleteStatesBeforeAsync(string folder, int step, CancellationToken cancellationToken, int? keep = null)
    {
        foreach (int saved in await StateStepsAsync(folder, cancellationToken))
            if (saved < step && saved != keep) await DeleteAsync(In(folder, Checkpoint.FolderName(saved)) + "/", cancellationToken);
    }

    /// <summary><paramref name="name"/> inside <paramref name="folder"/> ("" being the exchange itself).</summary>
    public static string In(string folder, string name) => folder.Length == 0 ? name : $"{folder.TrimEnd('/')}/{name}";

    internal static int? StepOf(string folderName) =>
        folderName.StartsWith("step-", StringComparison.Ordinal) && int.TryParse(folderName.AsSpan("step-".Length), out int step) ? step : null;
}
