;;; Emacs's Eglot (Debian's emacs-nox + elpa-eglot), in batch mode, against indexer lsp, configured
;;; the way README.md shows: workspace symbols (xref-find-apropos's backend), the outline (imenu),
;;; go to definition (xref), and a definition typed into the buffer but not saved. Writes what it
;;; got to $OUT, one line per answer, for tests/clients/eglot_lsp.sh to compare.
(require 'package)
(package-initialize)
(require 'eglot)
(require 'imenu)
(require 'python)

;; The README's snippet.
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs `((python-mode c-mode c++-mode js-mode typescript-mode go-mode rust-mode java-mode)
                                        . (,(getenv "INDEXER_BINARY") "lsp"))))

(defvar out-lines nil)
(defun say (s) (push s out-lines))
(defun done (code)
  (with-temp-file (getenv "OUT") (insert (mapconcat #'identity (nreverse out-lines) "\n") "\n"))
  (kill-emacs code))

(setq eglot-sync-connect 10 eglot-connect-timeout 20 eglot-send-changes-idle-time 0)
(condition-case err
    (let* ((root (file-name-as-directory (getenv "ROOT")))
           (file (expand-file-name "shapes.py" root)))
      (find-file file)
      (python-mode)
      ;; What M-x eglot does (eglot-ensure waits for a command loop batch mode has not). A
      ;; directory with .git is a project to project.el: the server's root.
      (apply #'eglot (eglot--guess-contact))
      (unless (eglot-current-server) (error "no server"))
      (dolist (x (xref-backend-apropos 'eglot "area"))
        (let ((loc (xref-item-location x)))
          (say (format "workspace %s %d" (string-trim (xref-item-summary x)) (xref-file-location-line loc)))))
      ;; imenu's index: (KIND (NAME . WHERE)...), members under their container: (KIND (CONTAINER (NAME . WHERE)...)).
      (dolist (entry (funcall imenu-create-index-function))
        (dolist (item (cdr entry))
          (if (consp (cdr item))
              (dolist (member (cdr item)) (say (format "outline %s %s.%s" (car entry) (car item) (car member))))
            (say (format "outline %s %s" (car entry) (car item))))))
      (goto-char (point-min))
      (forward-line 5)
      (search-forward "area_of")
      (backward-char 2)
      (dolist (x (xref-backend-definitions 'eglot "LSP identifier at point"))
        (let ((loc (xref-item-location x)))
          (say (format "definition %s %d" (file-name-nondirectory (xref-file-location-file loc))
                       (xref-file-location-line loc)))))
      ;; Typed, not saved: Eglot sends didChange; the index answers from the buffer.
      (goto-char (point-max))
      (insert "def typed_in_emacs():\n    pass\n")
      (eglot--signal-textDocument/didChange)
      (let ((found nil) (tries 0))
        (while (and (not found) (< tries 40))
          (setq found (xref-backend-apropos 'eglot "typed_in_emacs") tries (1+ tries))
          (unless found (sleep-for 0.05)))
        (dolist (x found)
          (say (format "unsaved %s %d" (string-trim (xref-item-summary x)) (xref-file-location-line (xref-item-location x))))))
      (set-buffer-modified-p nil)
      ;; shutdown, then exit, as M-x eglot-shutdown sends them (params null); a refused shutdown is
      ;; an error here. (jsonrpc.el then deletes the process whatever it does: no exit status to read.)
      (eglot-shutdown (eglot-current-server))
      (say "shutdown answered")
      (done 0))
  (error (say (format "error %S" err)) (done 1)))
