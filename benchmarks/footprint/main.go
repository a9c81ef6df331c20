// Command footprint explains the size difference between two unstripped
// builds of the same program, one linked against the established ttrpc and
// one against this module. .ci/footprint.sh runs it in its -B (breakdown)
// mode; it is a module of its own, with no dependencies, so that running it
// downloads nothing.
//
//	go run . -base BASE -ours OURS [-dumpdep OURS.dumpdep] [-trace P,...] [-from P]
//
// It prints:
//
//   - the file-backed ELF sections of both binaries;
//   - symbol bytes summed per module and per package (the package of a
//     symbol is the import path in front of its name, type descriptors and
//     itabs counted with their type's package), with the differences;
//   - for each -trace package prefix: the symbols of -from (the ttrpc
//     packages) whose code refers to that prefix directly (from go tool
//     objdump), and, when -dumpdep has the linker's -ldflags=-dumpdep output
//     of OURS, the references through which the linker first reached the
//     prefix's symbols, with the bytes reached through each and the chain
//     from the program's root to it.
//
// Symbol sizes do not include a function's entries in .gopclntab (names,
// line and frame tables), about a third of a Go binary, so the summed bytes
// are a lower bound of what each package costs; the section table shows
// the whole.
package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

var (
	baseBin = flag.String("base", "", "unstripped binary built against the established ttrpc")
	oursBin = flag.String("ours", "", "unstripped binary built against this module")
	dumpdep = flag.String("dumpdep", "", "output of -ldflags=-dumpdep when linking -ours (optional)")
	baseDep = flag.String("basedumpdep", "", "output of -ldflags=-dumpdep when linking -base (optional)")
	trace   = flag.String("trace", "google.golang.org/protobuf,log/slog", "comma-separated package prefixes to trace")
	from    = flag.String("from", "github.com/containerd/ttrpc", "package prefix whose direct references are listed")
	focus   = flag.String("focus", "google.golang.org/protobuf,github.com/gogo/protobuf,github.com/golang/protobuf,google.golang.org/genproto,google.golang.org/grpc,github.com/containerd/ttrpc,log/slog,encoding/json,reflect,github.com/sirupsen/logrus", "comma-separated package prefixes summed in the focus table")
	top     = flag.Int("top", 40, "rows of the per-package difference table")
	chains  = flag.Int("chains", 12, "entry references shown with their chain, per traced prefix")
)

func main() {
	flag.Parse()
	if *baseBin == "" || *oursBin == "" {
		flag.Usage()
		os.Exit(2)
	}
	base, err := load(*baseBin)
	check(err)
	ours, err := load(*oursBin)
	check(err)

	fmt.Printf("### ELF sections in the file (bytes)\n\n")
	table([]string{"section", "established", "this module", "Δ"}, diffRows(base.sections, ours.sections, false, 0))

	mods := append(moduleList(*baseBin), moduleList(*oursBin)...)
	byMod := func(b *bin) map[string]int64 {
		m := map[string]int64{}
		for p, n := range b.pkgs {
			m[moduleOf(p, mods)] += n
		}
		return m
	}
	fmt.Printf("\n### symbol bytes per module (changed only; total symbols %d → %d, Δ %+d)\n\n", base.total, ours.total, ours.total-base.total)
	table([]string{"module", "established", "this module", "Δ"}, diffRows(byMod(base), byMod(ours), true, 0))

	fmt.Printf("\n### symbol bytes per package (changed only, largest %d)\n\n", *top)
	table([]string{"package", "established", "this module", "Δ"}, diffRows(base.pkgs, ours.pkgs, true, *top))

	fmt.Printf("\n### focus: symbol bytes per package prefix\n\n")
	var frows [][]string
	for _, p := range split(*focus) {
		b, o := sumPrefix(base.pkgs, p), sumPrefix(ours.pkgs, p)
		frows = append(frows, []string{p + "/...", num(b), num(o), sgn(o - b)})
	}
	table([]string{"prefix", "established", "this module", "Δ"}, frows)

	for _, p := range split(*trace) {
		fmt.Printf("\n### %s/... in this module's build: %d bytes in %d packages (established build: %d bytes)\n\n",
			p, sumPrefix(ours.pkgs, p), countPrefix(ours.pkgs, p), sumPrefix(base.pkgs, p))
		var prows [][]string
		for _, k := range sortedKeys(ours.pkgs) {
			if under(k, p) {
				prows = append(prows, []string{k, num(base.pkgs[k]), num(ours.pkgs[k]), sgn(ours.pkgs[k] - base.pkgs[k])})
			}
		}
		sort.SliceStable(prows, func(i, j int) bool { return ours.pkgs[prows[i][0]] > ours.pkgs[prows[j][0]] })
		table([]string{"package", "established", "this module", "Δ"}, prows)
		directRefs(*oursBin, *from, p)
	}
	if *dumpdep != "" {
		g, err := loadDumpdep(*dumpdep)
		check(err)
		for _, p := range split(*trace) {
			entries(g, ours, p)
		}
		var bg *graph
		if *baseDep != "" {
			bg, err = loadDumpdep(*baseDep)
			check(err)
		}
		reflectMethods(g, bg)
	}
}

type bin struct {
	pkgs     map[string]int64 // package → symbol bytes
	syms     map[string]int64 // symbol → bytes
	sections map[string]int64
	total    int64
}

// load sums the sizes of the symbols that occupy bytes in the file: those
// in allocated sections with contents (not .bss or .noptrbss).
func load(path string) (*bin, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := &bin{pkgs: map[string]int64{}, syms: map[string]int64{}, sections: map[string]int64{}}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Type != elf.SHT_NULL {
			b.sections[s.Name] = int64(s.Size)
		}
	}
	if st, err := os.Stat(path); err == nil {
		b.sections["(file)"] = st.Size()
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %v (an unstripped build is needed)", path, err)
	}
	for _, s := range syms {
		if int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) || s.Size == 0 {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS || sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		b.syms[s.Name] += int64(s.Size)
		b.pkgs[pkgOf(s.Name)] += int64(s.Size)
		b.total += int64(s.Size)
	}
	return b, nil
}

var arrayPrefix = regexp.MustCompile(`^(\*|\[\d*\])+`)

// pkgOf returns the import path a linker symbol belongs to. The linker
// escapes dots in the last element of an import path (%2e), so the package
// ends at the first dot after the last slash in front of any bracket.
func pkgOf(name string) string {
	s := name
	switch {
	case strings.HasPrefix(s, "go:itab."):
		s = s[len("go:itab."):]
	case strings.HasPrefix(s, "go:"):
		if i := strings.IndexAny(s, ".\"*"); i > 0 {
			return "(" + s[:i] + ")"
		}
		return "(" + s + ")"
	case strings.HasPrefix(s, "type:"):
		s = s[len("type:"):]
		for _, p := range []string{".eq.", ".hash.", "noalg."} {
			s = strings.TrimPrefix(s, p)
		}
		if strings.HasPrefix(s, ".") {
			return "(type metadata)"
		}
	}
	s = arrayPrefix.ReplaceAllString(s, "")
	if i := strings.IndexAny(s, "([{ ,"); i >= 0 {
		s = s[:i]
	}
	slash := strings.LastIndex(s, "/")
	dot := strings.Index(s[slash+1:], ".")
	if dot < 0 {
		if strings.HasPrefix(name, "type:") {
			return "(unnamed types)"
		}
		return "(other)"
	}
	p := strings.ReplaceAll(s[:slash+1+dot], "%2e", ".")
	if p == "go" || strings.HasPrefix(p, "go.shape") {
		return "(unnamed types)"
	}
	return p
}

func moduleList(path string) []string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil
	}
	var m []string
	for _, d := range bi.Deps {
		m = append(m, d.Path)
	}
	return m
}

func moduleOf(pkg string, mods []string) string {
	if strings.HasPrefix(pkg, "(") {
		return "(runtime tables, strings, unnamed types)"
	}
	if first, _, _ := strings.Cut(pkg, "/"); !strings.Contains(first, ".") {
		return "std"
	}
	best := ""
	for _, m := range mods {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return pkg
	}
	return best
}

func under(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, strings.TrimSuffix(prefix, "/")+"/")
}

func sumPrefix(m map[string]int64, p string) (n int64) {
	for k, v := range m {
		if under(k, p) {
			n += v
		}
	}
	return n
}

func countPrefix(m map[string]int64, p string) (n int) {
	for k := range m {
		if under(k, p) {
			n++
		}
	}
	return n
}

// diffRows lists keys of a and b with both values and the difference,
// largest difference first when sorted, otherwise by name.
func diffRows(a, b map[string]int64, changedOnly bool, limit int) [][]string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		if !changedOnly || a[k] != b[k] {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	if changedOnly {
		sort.SliceStable(ks, func(i, j int) bool { return abs(b[ks[i]]-a[ks[i]]) > abs(b[ks[j]]-a[ks[j]]) })
	}
	rest := int64(0)
	if limit > 0 && len(ks) > limit {
		for _, k := range ks[limit:] {
			rest += b[k] - a[k]
		}
	}
	var rows [][]string
	for i, k := range ks {
		if limit > 0 && i == limit {
			rows = append(rows, []string{fmt.Sprintf("(%d more)", len(ks)-limit), "", "", sgn(rest)})
			break
		}
		rows = append(rows, []string{k, num(a[k]), num(b[k]), sgn(b[k] - a[k])})
	}
	return rows
}

// directRefs lists, per function of the from packages, the symbols under
// prefix that its machine code names (calls, type descriptors, itabs).
func directRefs(binary, from, prefix string) {
	pat := "^" + regexp.QuoteMeta(from) + `[./]`
	out, err := exec.Command("go", "tool", "objdump", "-s", pat, binary).Output()
	if err != nil {
		fmt.Printf("\n(go tool objdump failed: %v)\n", err)
		return
	}
	ref := regexp.MustCompile(`([^\s,]+)\(SB\)`)
	refs := map[string]map[string]bool{}
	var fn string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = strings.TrimSuffix(strings.Fields(line)[1], "(SB)")
			continue
		}
		for _, m := range ref.FindAllStringSubmatch(line, -1) {
			if under(pkgOf(m[1]), prefix) {
				if refs[fn] == nil {
					refs[fn] = map[string]bool{}
				}
				refs[fn][m[1]] = true
			}
		}
	}
	fmt.Printf("\ndirect references from %s code to %s/... (go tool objdump):\n\n", from, prefix)
	if len(refs) == 0 {
		fmt.Println("  none")
		return
	}
	for _, f := range sortedKeys(refs) {
		fmt.Printf("  %s\n", f)
		for _, r := range sortedKeys(refs[f]) {
			fmt.Printf("      → %s\n", r)
		}
	}
}

type graph struct {
	parent  map[string]string // the symbol through which the linker first reached each symbol
	reflect []string          // symbols flagged <ReflectMethod>, in the order reached
}

var depTag = regexp.MustCompile(` <[A-Za-z]+>$`)

// depName strips the attributes dumpdep appends to a symbol's name
// (<UsedInIface>, <ReflectMethod>) and reports whether it was flagged
// ReflectMethod.
func depName(s string) (string, bool) {
	rm := false
	for {
		loc := depTag.FindStringIndex(s)
		if loc == nil {
			return s, rm
		}
		rm = rm || s[loc[0]:] == " <ReflectMethod>"
		s = s[:loc[0]]
	}
}

func loadDumpdep(path string) (*graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &graph{parent: map[string]string{}}
	seenRM := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		a, b, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		a, rmA := depName(a)
		b, rmB := depName(b)
		for _, x := range []struct {
			s  string
			rm bool
		}{{a, rmA}, {b, rmB}} {
			if x.rm && !seenRM[x.s] {
				seenRM[x.s] = true
				g.reflect = append(g.reflect, x.s)
			}
		}
		if _, seen := g.parent[b]; !seen {
			g.parent[b] = a
		}
	}
	return g, sc.Err()
}

// entries attributes every reached symbol under prefix to the reference
// that first led the linker into the prefix on its path from the root, and
// prints those references with the bytes behind them and their chains.
func entries(g *graph, b *bin, prefix string) {
	type entry struct {
		from, to string
		bytes    int64
		syms     int
	}
	agg := map[[2]string]*entry{}
	for s := range g.parent {
		if !under(pkgOf(s), prefix) {
			continue
		}
		e, hops := s, 0
		for hops < 10000 {
			p, ok := g.parent[e]
			if !ok || !under(pkgOf(p), prefix) {
				break
			}
			e, hops = p, hops+1
		}
		k := [2]string{g.parent[e], e}
		if agg[k] == nil {
			agg[k] = &entry{from: k[0], to: k[1]}
		}
		agg[k].bytes += b.syms[s]
		agg[k].syms++
	}
	var es []*entry
	var total int64
	for _, e := range agg {
		es = append(es, e)
		total += e.bytes
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].bytes != es[j].bytes {
			return es[i].bytes > es[j].bytes
		}
		return es[i].from+es[i].to < es[j].from+es[j].to
	})
	fmt.Printf("\n### how the linker reached %s/... (-ldflags=-dumpdep of this module's build)\n\n", prefix)
	fmt.Printf("%d bytes in %d references into it; each reached symbol is counted under the first reference on its path from the root.\n\n", total, len(es))
	var rows [][]string
	for _, e := range es {
		rows = append(rows, []string{num(e.bytes), fmt.Sprint(e.syms), e.from + " → " + e.to})
	}
	table([]string{"bytes", "symbols", "reference"}, rows)
	for i, e := range es {
		if i == *chains {
			break
		}
		fmt.Printf("\nchain to %s:\n", e.to)
		for _, c := range g.chain(e.from) {
			fmt.Printf("  %s\n", c)
		}
		fmt.Printf("  → %s\n", e.to)
	}
}

// chain returns the path from the root to s through first-reach parents.
func (g *graph) chain(s string) []string {
	var path []string
	for n := 0; s != "" && n < 200; n++ {
		path = append(path, s)
		p, ok := g.parent[s]
		if !ok || p == "_" {
			break
		}
		s = p
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// reflectMethods lists the functions the linker flagged ReflectMethod
// (calls of reflect's Method/MethodByName with a name not known at compile
// time). Once one is reachable, the linker keeps every exported method of
// every type that is converted to an interface, in the whole program.
func reflectMethods(g, base *graph) {
	fmt.Printf("\n### functions flagged ReflectMethod (each keeps all exported methods of all types used in interfaces)\n\n")
	if base != nil {
		fmt.Printf("established build: %d (%s)\n", len(base.reflect), strings.Join(base.reflect, ", "))
	}
	fmt.Printf("this module's build: %d\n", len(g.reflect))
	for i, s := range g.reflect {
		if i == *chains {
			fmt.Printf("  (%d more)\n", len(g.reflect)-i)
			break
		}
		fmt.Printf("\nchain to %s:\n", s)
		for _, c := range g.chain(s) {
			fmt.Printf("  %s\n", c)
		}
	}
}

func table(head []string, rows [][]string) {
	w := make([]int, len(head))
	for i, h := range head {
		w[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			if n := len([]rune(c)); n > w[i] {
				w[i] = n
			}
		}
	}
	line := func(cells []string, numeric bool) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", w[i]-len([]rune(c)))
			if numeric && i > 0 && c != "" && (c[0] >= '0' && c[0] <= '9' || c[0] == '+' || c[0] == '-') {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		fmt.Println(b.String())
	}
	line(head, false)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", w[i])
	}
	fmt.Println("|-" + strings.Join(sep, "-|-") + "-|")
	for _, r := range rows {
		line(r, true)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimSuffix(p, "/"))
		}
	}
	return out
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func num(n int64) string { return fmt.Sprint(n) }

func sgn(n int64) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%+d", n)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}
