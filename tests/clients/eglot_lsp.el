;; Emacs's Eglot (Debian's emacs-nox and elpa-eglot), in batch mode, against indexer lsp, set up
;; with the README's snippet ($SNIPPET, extracted by eglot_lsp.sh): workspace symbols, the outline
;; (imenu), definition (xref), hover, and a definition typed into the buffer but not saved. Writes
;; what it got to $OUT, one line per answer, for eglot_lsp.sh to compare.
(require 'eglot)
(load (getenv "SNIPPET") nil t)
(setq eglot-sync-connect 10 eglot-send-changes-idle-time 0)
(defvar root (file-name-as-directory (getenv "ROOT")))
(defvar out nil)
(defun say (s) (push s out))

(find-file (concat root "shapes.py"))
(python-mode)
(apply #'eglot (eglot--guess-contact))
(defvar server (eglot-current-server))
(unless server (error "no Eglot server"))

(defun uri-rel (uri) (file-relative-name (eglot--uri-to-path uri) root))

(dolist (s (append (jsonrpc-request server :workspace/symbol '(:query "area")) nil))
  (let ((start (plist-get (plist-get (plist-get s :location) :range) :start)))
    (say (format "workspace %s %d:%d" (plist-get s :name) (plist-get start :line) (plist-get start :character)))))

;; Eglot's imenu groups the symbols by kind: ("Class" ("Shape" . POS)); a method comes as
;; ("Method" ("Shape" ...)), under its class's name.
(dolist (group (eglot-imenu))
  (dolist (entry (cdr group))
    (say (format "outline %s %s" (car group) (car entry)))))

(goto-char (point-min))
(forward-line 5)
(move-to-column 12)
(dolist (x (xref-backend-definitions 'eglot (xref-backend-identifier-at-point 'eglot)))
  (let ((loc (xref-item-location x)))
    (say (format "definition %s %d" (file-relative-name (xref-file-location-file loc) root) (xref-file-location-line loc)))))

(let ((hover (jsonrpc-request server :textDocument/hover (eglot--TextDocumentPositionParams))))
  (say (format "hover %s" (car (split-string (plist-get (plist-get hover :contents) :value) "\n" t "```python")))))

;; Typed, not saved: Eglot sends didChange; the index answers from the buffer.
(goto-char (point-max))
(insert "def typed_in_emacs():\n    pass\n")
(eglot--signal-textDocument/didChange)
(dolist (s (append (jsonrpc-request server :workspace/symbol '(:query "typed_in_emacs")) nil))
  (say (format "unsaved %s %d" (plist-get s :name) (plist-get (plist-get (plist-get (plist-get s :location) :range) :start) :line))))

(with-temp-file (getenv "OUT") (insert (mapconcat #'identity (nreverse out) "\n") "\n"))
(set-buffer-modified-p nil)
(eglot-shutdown server)
(kill-emacs 0)
