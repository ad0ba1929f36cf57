using Orleans.Runtime;
using Orleans.Storage;

namespace Platform.Grains.Work;

/// <summary>One stored page of a <see cref="PagedRows{TRow}"/> or a <see cref="RowArchive{TRow}"/>: a storage row of its own.</summary>
[GenerateSerializer]
public sealed class RowPage<TRow>
{
    [Id(0)] public List<TRow> Rows { get; set; } = [];

    /// <summary>The page stored under <paramref name="name"/> with its ETag; no rows when there is none.</summary>
    public static async Task<GrainState<RowPage<TRow>>> ReadAsync(IGrainStorage storage, string name, GrainId owner)
    {
        var page = new GrainState<RowPage<TRow>>(new RowPage<TRow>());
        await storage.ReadStateAsync(name, owner, page);
        page.State ??= new RowPage<TRow>();
        return page;
    }
}

/// <summary>
/// Where a <see cref="PagedRows{TRow}"/> stands, kept in its owner's small grain state: the generation names the pages in use,
/// and the count says how many rows they hold.
/// </summary>
[GenerateSerializer]
public sealed class PagedRowsHead
{
    [Id(0)] public int Generation { get; set; }
    [Id(1)] public int Count { get; set; }
}

/// <summary>
/// A list that grows with the work (an ingest job's units, a crawl's frontier, a watch's claimed files), kept out of its
/// owner's grain state: Azure Table refuses an entity over about 1 MB, so the rows are stored in pages of
/// <c>pageSize</c> rows, each a storage row of its own beside the owner's state, and only the pages whose rows changed are
/// written again. The owner's state holds only the <see cref="PagedRowsHead"/>.
/// <para>
/// Order of writes, so a crash at any point leaves a readable whole: the owner calls <see cref="WriteAsync"/> (changed pages)
/// before it writes its own state (the head). A page rewritten in place only ever moves its rows forward, which is what the
/// owner would have written anyway. A list replaced as a whole (<see cref="StartGeneration"/>) goes into pages of a new
/// generation, so until the head naming it is stored, the pages of the old generation are still there, untouched. Rows past the
/// stored head (a page written, the head after it not) are not read at activation, and the next save writes their page over them;
/// a head counting more rows than its pages hold (a storage that lost page writes but kept the head's) reads the rows there,
/// as <see cref="RowArchive{TRow}"/> does: the two differ in what they keep in memory (every row here, which the owner changes in
/// place; only the last page there, of rows that never change), and share the page itself (<see cref="RowPage{TRow}"/>).
/// </para>
/// </summary>
/// <param name="fingerprint">
/// The values of a row that change after it was added (its state, attempt, report): a page is written again only when one of its
/// rows' fingerprints differs from when it was last stored, which keeps a save proportional to what changed.
/// </param>
public sealed class PagedRows<TRow>(IGrainStorage storage, GrainId owner, string name, PagedRowsHead head, int pageSize, Func<TRow, object?> fingerprint)
{
    private List<GrainState<RowPage<TRow>>> pages = [];
    private List<object?[]> stored = [];
    private List<(int Generation, int Page, GrainState<RowPage<TRow>> State)> stale = [];

    /// <summary>The rows, in memory; changed in place by the owner (a <see cref="WorkTable{TItem}"/> over them, say).</summary>
    public List<TRow> Items { get; } = [];

    public int PageSize => pageSize;

    private string PageName(int generation, int page) => $"{name}-g{generation}-p{page}";

    private int PageCount(int rows) => (rows + pageSize - 1) / pageSize;

    /// <summary>Reads the pages the head names (at activation).</summary>
    public async Task LoadAsync()
    {
        var loaded = await Task.WhenAll(Enumerable.Range(0, PageCount(head.Count)).Select(page => RowPage<TRow>.ReadAsync(storage, PageName(head.Generation, page), owner)));
        Items.Clear();
        foreach (var page in loaded) Items.AddRange(page.State!.Rows);
        // Fewer rows than the head counts: the storage lost page writes the head's write outlived (Azurite keeps its last seconds
        // of writes in memory). The rows that are there are the list; the head counts them from here on, and the pages whose rows
        // moved no longer match their fingerprints below, so the next save rewrites them in order, losing and repeating nothing more.
        if (Items.Count < head.Count) head.Count = Items.Count;
        // Rows past the head are what a crash left between writing a page and storing the head: not read. Their page's
        // fingerprints below still count them, so the next save writes that page over them.
        Items.RemoveRange(head.Count, Items.Count - head.Count);
        pages = [.. loaded];
        stored = [.. loaded.Select(page => Fingerprints(page.State!.Rows))];
    }

    /// <summary>
    /// The rows are about to be replaced as a whole: they go into the pages of a new generation, and the old pages are
    /// cleared once the head naming the new ones is stored (<see cref="ForgetStaleAsync"/>).
    /// </summary>
    public void StartGeneration()
    {
        stale.AddRange(pages.Select((state, page) => (head.Generation, page, state)));
        head.Generation++;
        pages = [];
        stored = [];
    }

    /// <summary>Writes every page whose rows changed since it was stored, and sets the head's count. The owner writes its state after.</summary>
    public async Task WriteAsync()
    {
        var count = PageCount(Items.Count);
        var writes = new List<Task>();
        for (var page = 0; page < count; page++)
        {
            var rows = Items.GetRange(page * pageSize, Math.Min(pageSize, Items.Count - page * pageSize));
            var fingerprints = Fingerprints(rows);
            if (page < stored.Count && stored[page].SequenceEqual(fingerprints)) continue;
            if (page == pages.Count) pages.Add(new GrainState<RowPage<TRow>>(new RowPage<TRow>()));
            while (stored.Count <= page) stored.Add([]);
            writes.Add(WritePageAsync(page, rows, fingerprints));
        }
        await Task.WhenAll(writes);
        // Pages past the end belong to a list that shrank in place; none of the owners does that (they start a generation).
        head.Count = Items.Count;
    }

    private async Task WritePageAsync(int page, List<TRow> rows, object?[] fingerprints)
    {
        var state = pages[page];
        var name = PageName(head.Generation, page);
        if (state.ETag is null)
        {
            // A page this activation has not stored yet may exist all the same: written by an activation that died before its
            // head named the page (the same generation is started again then), or cleared by a storage that keeps an empty row.
            // Writing over it needs its ETag; without one the write would be refused as a conflict for good.
            state.ETag = (await RowPage<TRow>.ReadAsync(storage, name, owner)).ETag;
        }
        state.State = new RowPage<TRow> { Rows = rows };
        await storage.WriteStateAsync(name, owner, state);
        // Only a page that reached storage counts as stored: a failed write is tried again at the next save.
        stored[page] = fingerprints;
    }

    /// <summary>
    /// After the owner stored the head: clears the pages of the generations it no longer names (the platform's table storage
    /// deletes cleared rows). Best effort; a leftover page is only unused.
    /// </summary>
    public async Task ForgetStaleAsync()
    {
        if (stale.Count == 0) return;
        var forgotten = stale;
        stale = [];
        await Task.WhenAll(forgotten.Select(page => storage.ClearStateAsync(PageName(page.Generation, page.Page), owner, page.State)));
    }

    private object?[] Fingerprints(List<TRow> rows)
    {
        var fingerprints = new object?[rows.Count];
        for (var i = 0; i < rows.Count; i++) fingerprints[i] = fingerprint(rows[i]);
        return fingerprints;
    }
}
